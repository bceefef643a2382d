import { test } from 'node:test'
import assert from 'node:assert/strict'
import { initial } from '../src/consent.js'

test('the site default applies to a first visit', () => {
  for (const d of ['granted', 'denied', 'pending']) assert.equal(initial({ consent_default: d }, false, false), d)
})

test('no settings (the config could not be fetched) means pending', () => {
  assert.equal(initial({}, false, false), 'pending')
})

test('a valid anonymous id means the visitor granted before', () => {
  assert.equal(initial({ consent_default: 'pending' }, false, true), 'granted')
  assert.equal(initial({ consent_default: 'denied' }, undefined, true), 'granted')
})

test('GPC means denied when the site honours it, which is the default', () => {
  assert.equal(initial({ consent_default: 'granted' }, true, true), 'denied')
  assert.equal(initial({ consent_default: 'granted', gpc: true }, true, false), 'denied')
  assert.equal(initial({}, true, false), 'denied')
})

test('GPC is ignored when the site turns the option off', () => {
  assert.equal(initial({ consent_default: 'granted', gpc: false }, true, false), 'granted')
  assert.equal(initial({ consent_default: 'pending', gpc: false }, true, true), 'granted')
})
