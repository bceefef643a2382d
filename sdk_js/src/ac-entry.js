// dist/ac.js, served at t/ac.js beside t.js: the autocapture module the core loads
// when the site settings ask for it.
import { autocapture } from './ac.js'
autocapture((e, p) => window.footpath('track', e, p))
