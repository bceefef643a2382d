import { test } from 'node:test'
import assert from 'node:assert/strict'
import { initial } from '../src/consent.js'

test('the site default applies to a first visit', () => {
  for (const d of ['granted', 'denied', 'pending']) assert.equal(initial({ consent_default: d }, false, false), d)
})

test('no settings (the config could not be fetched) means pending', () => {
  assert.equal(initial({}, false, false), 'pending')
})

test("a valid anonymous id with this site's grant means the visitor granted before", () => {
  assert.equal(initial({ consent_default: 'pending' }, false, true, 1), 'granted')
  assert.equal(initial({ consent_default: 'denied' }, undefined, true, 1), 'granted')
})

test("an id without this site's grant (another site on the origin made it) is not consent", () => {
  assert.equal(initial({ consent_default: 'pending' }, false, true), 'pending')
  assert.equal(initial({ consent_default: 'denied' }, false, true, null), 'denied')
  assert.equal(initial({ consent_default: 'pending' }, false, false, 1), 'pending') // the id expired
})

test('GPC means denied when the site honours it, which is the default', () => {
  assert.equal(initial({ consent_default: 'granted' }, true, true, 1), 'denied')
  assert.equal(initial({ consent_default: 'granted', gpc: true }, true, false), 'denied')
  assert.equal(initial({}, true, false), 'denied')
})

test("the visitor's explicit grant under GPC wins on later pages, while its id is valid", () => {
  assert.equal(initial({ consent_default: 'pending' }, true, true, 2), 'granted')
  assert.equal(initial({ consent_default: 'granted', gpc: true }, true, false, 2), 'denied')
})

test('GPC is ignored when the site turns the option off', () => {
  assert.equal(initial({ consent_default: 'granted', gpc: false }, true, false), 'granted')
  assert.equal(initial({ consent_default: 'pending', gpc: false }, true, true, 1), 'granted')
})
