// A Storage stand-in with the Web Storage semantics the tag relies on: string
// values, own enumerable keys (Object.keys(localStorage) lists items), and an
// optional quota that makes setItem throw like a full localStorage.
export class FakeStorage {
  constructor(quota = Infinity) {
    Object.defineProperty(this, '_quota', { value: quota })
  }
  getItem(k) {
    return Object.prototype.hasOwnProperty.call(this, k) ? this[k] : null
  }
  setItem(k, v) {
    v = String(v)
    const used = Object.keys(this).reduce((n, x) => n + (x == k ? 0 : x.length + this[x].length), 0)
    if (used + k.length + v.length > this._quota) throw new DOMException('quota', 'QuotaExceededError')
    this[k] = v
  }
  removeItem(k) {
    delete this[k]
  }
}
