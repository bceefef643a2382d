// t.ac.js: the autocapture module the core loads when the site config asks for it.
import { autocapture } from './ac.js'
autocapture((e, p) => window.footpath('track', e, p))
