// Footpath demo shop: a small single-page app. Internal links change the URL with
// history.pushState and render without a page load; the tag sees every route change
// and counts page views by itself. The shop adds e-commerce events (Segment's
// e-commerce spec names), identify on sign-in and reset on sign-out.
;(function () {
  'use strict'
  var PRODUCTS = [
    { id: 'p1', name: 'Trail Runner Shoes', price: 119, color: '#ffd8a8', icon: 'TR' },
    { id: 'p2', name: 'Canvas Backpack', price: 79, color: '#c3fae8', icon: 'CB' },
    { id: 'p3', name: 'Insulated Bottle', price: 29, color: '#d0ebff', icon: 'IB' },
    { id: 'p4', name: 'Merino Beanie', price: 35, color: '#e5dbff', icon: 'MB' },
    { id: 'p5', name: 'Rain Shell Jacket', price: 189, color: '#d3f9d8', icon: 'RS' },
    { id: 'p6', name: 'Trekking Poles', price: 99, color: '#ffe3e3', icon: 'TP' },
  ]
  var fp = function () { window.footpath.apply(null, arguments) }
  var $ = function (id) { return document.getElementById(id) }
  var esc = function (s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';' }) }
  var money = function (n) { return '$' + n.toFixed(2) }
  var store = {
    get: function (k, d) { try { return JSON.parse(localStorage.getItem(k)) || d } catch (e) { return d } },
    set: function (k, v) { try { localStorage.setItem(k, JSON.stringify(v)) } catch (e) {} },
  }
  var cart = function () { return store.get('demo_cart', []) }
  var user = function () { return store.get('demo_user', null) }
  var byId = function (id) { return PRODUCTS.filter(function (p) { return p.id === id })[0] }
  var lines = function () {
    return cart().map(function (l) { var p = byId(l.id); return { product: p, qty: l.qty, total: p.price * l.qty } })
  }
  var cartValue = function () { return lines().reduce(function (s, l) { return s + l.total }, 0) }
  var asProducts = function () {
    return lines().map(function (l) { return { product_id: l.product.id, name: l.product.name, price: l.product.price, quantity: l.qty } })
  }

  function addToCart(id) {
    var c = cart(), line = c.filter(function (l) { return l.id === id })[0]
    if (line) line.qty++; else c.push({ id: id, qty: 1 })
    store.set('demo_cart', c)
    var p = byId(id)
    fp('track', 'Product Added', { product_id: p.id, name: p.name, price: p.price, quantity: 1, currency: 'USD' })
    chrome()
  }

  var views = {
    '/demo/': function () {
      document.title = 'Products | Footpath Shop'
      return '<h1>Gear for the trail</h1><div class="grid">' + PRODUCTS.map(function (p) {
        return '<div class="card"><a href="/demo/product.html?id=' + p.id + '" data-link>' +
          '<div class="swatch" style="background:' + p.color + '">' + p.icon + '</div><h3>' + esc(p.name) + '</h3></a>' +
          '<p class="price">' + money(p.price) + '</p><button data-add="' + p.id + '">Add to cart</button></div>'
      }).join('') + '</div>'
    },
    '/demo/product.html': function (q) {
      var p = byId(q.get('id')) || PRODUCTS[0]
      document.title = p.name + ' | Footpath Shop'
      fp('track', 'Product Viewed', { product_id: p.id, name: p.name, price: p.price, currency: 'USD' })
      return '<div class="product"><div class="swatch" style="background:' + p.color + '">' + p.icon + '</div><div>' +
        '<h1>' + esc(p.name) + '</h1><p class="price">' + money(p.price) + '</p>' +
        '<p class="muted">Made to last, tested on real trails. Free returns within 30 days.</p>' +
        '<button data-add="' + p.id + '" id="add">Add to cart</button> <a href="/demo/cart.html" data-link>View cart</a></div></div>'
    },
    '/demo/cart.html': function () {
      document.title = 'Cart | Footpath Shop'
      var ls = lines()
      fp('track', 'Cart Viewed', { products: asProducts(), value: cartValue(), currency: 'USD' })
      if (!ls.length) return '<h1>Your cart</h1><p class="muted">Empty for now. <a href="/demo/" data-link>Browse products</a>.</p>'
      return '<h1>Your cart</h1><table><tr><th>Product</th><th>Qty</th><th>Total</th></tr>' + ls.map(function (l) {
        return '<tr><td>' + esc(l.product.name) + '</td><td>' + l.qty + '</td><td>' + money(l.total) + '</td></tr>'
      }).join('') + '<tr><th colspan="2">Total</th><th>' + money(cartValue()) + '</th></tr></table>' +
        '<p><a href="/demo/checkout.html" data-link><button id="checkout">Checkout</button></a></p>'
    },
    '/demo/checkout.html': function (q) {
      document.title = 'Checkout | Footpath Shop'
      if (q.get('order')) {
        return '<h1>Thank you!</h1><p class="notice">Order <strong>' + esc(q.get('order')) + '</strong> is confirmed.</p>' +
          '<p><a href="/demo/" data-link>Back to the shop</a></p>'
      }
      if (!cart().length) return '<h1>Checkout</h1><p class="muted">Your cart is empty.</p>'
      fp('track', 'Checkout Started', { products: asProducts(), value: cartValue(), currency: 'USD' })
      var u = user()
      return '<h1>Checkout</h1><p>Total: <strong>' + money(cartValue()) + '</strong></p>' +
        '<form class="stack" id="checkout-form"><label for="name">Name</label><input id="name" required value="' + esc(u ? u.name : '') + '">' +
        '<label for="address">Address</label><input id="address" required value="1 Trail Road">' +
        '<button type="submit" id="pay">Place order</button></form>'
    },
    '/demo/login.html': function () {
      var u = user()
      document.title = (u ? 'Account' : 'Sign in') + ' | Footpath Shop'
      if (u) return '<h1>Hello, ' + esc(u.name) + '</h1><p>You are signed in as <code>' + esc(u.id) + '</code>.</p><button id="logout">Sign out</button>'
      return '<h1>Sign in</h1><form class="stack" id="login-form"><label for="username">Username</label>' +
        '<input id="username" required value="ada" autocomplete="username">' +
        '<label for="password">Password</label><input id="password" type="password" required value="demo" autocomplete="current-password">' +
        '<button type="submit" id="signin">Sign in</button></form>'
    },
  }

  function render() {
    var path = location.pathname.replace(/\/index\.html$/, '/')
    var view = views[path] || views['/demo/']
    $('app').innerHTML = view(new URLSearchParams(location.search))
    chrome()
  }

  function chrome() {
    $('cart-count').textContent = cart().reduce(function (s, l) { return s + l.qty }, 0)
    var u = user()
    $('login-link').textContent = u ? u.name : 'Sign in'
    var state = 'pending'
    try {
      state = localStorage.getItem('demo_consent') || (document.cookie.indexOf('fp_id=') >= 0 ? 'granted' : 'pending')
    } catch (e) {}
    $('tag-state').textContent = 'Footpath consent: ' + state
  }

  function go(href) {
    history.pushState({}, '', href)
    render()
    window.scrollTo(0, 0)
  }

  document.addEventListener('click', function (e) {
    var add = e.target.closest('[data-add]')
    if (add) return addToCart(add.getAttribute('data-add'))
    var a = e.target.closest('a[data-link]')
    if (a && !e.metaKey && !e.ctrlKey && !e.shiftKey && e.button === 0) { e.preventDefault(); go(a.getAttribute('href')) }
    if (e.target.id === 'logout') {
      fp('track', 'Signed Out')
      fp('reset') // a new anonymous id: the next visitor on this device is someone else
      localStorage.removeItem('demo_user')
      go('/demo/')
    }
  })

  document.addEventListener('submit', function (e) {
    e.preventDefault()
    if (e.target.id === 'login-form') {
      var name = $('username').value.trim() || 'ada'
      var u = { id: 'user_' + name.toLowerCase().replace(/[^a-z0-9]/g, ''), name: name }
      store.set('demo_user', u)
      fp('identify', u.id, { name: u.name })
      fp('track', 'Signed In', { method: 'password' })
      go('/demo/')
    } else if (e.target.id === 'checkout-form') {
      var order = 'FP-' + Date.now().toString(36).toUpperCase()
      fp('track', 'Order Completed', { order_id: order, revenue: cartValue(), currency: 'USD', products: asProducts() })
      store.set('demo_cart', [])
      go('/demo/checkout.html?order=' + order)
    }
  })

  window.addEventListener('popstate', render)

  function banner(show) { $('banner').hidden = !show }
  function choose(c) {
    try { localStorage.setItem('demo_consent', c) } catch (e) {}
    fp('consent', { analytics: c })
    banner(false)
    chrome()
  }
  $('accept').onclick = function () { choose('granted') }
  $('reject').onclick = function () { choose('denied') }
  $('privacy').onclick = function (e) { e.preventDefault(); banner(true) }
  try { banner(!localStorage.getItem('demo_consent')) } catch (e) { banner(true) }

  render()
})()
