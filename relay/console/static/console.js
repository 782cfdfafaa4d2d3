// relay console: live updates of an incident room and failover to
// another node. Pages work without this script; it only adds to them.
(function () {
  'use strict';
  var body = document.body;
  var node = body.dataset.node || '';
  var csrf = body.dataset.csrf || '';
  var banner = document.getElementById('node-banner');
  var peers = [];
  try { peers = JSON.parse(body.dataset.peers || '[]') || []; } catch (e) { peers = []; }

  // localPath keeps a path on this site: browsers drop tabs and line
  // breaks, so "/\t/evil" would be another site.
  function localPath(p) {
    return typeof p === 'string' && p.charAt(0) === '/' && !/^.[\/\\]/.test(p) && !/[\x00-\x1f\x7f]/.test(p) ? p : '/';
  }

  // Forms in parts a live update brought carry no form token: give them
  // the page's.
  function fillCSRF(root) {
    var inputs = root.querySelectorAll('input[name="csrf"]');
    for (var i = 0; i < inputs.length; i++) {
      if (!inputs[i].value) { inputs[i].value = csrf; }
    }
  }

  function say(text) {
    if (banner) { banner.textContent = text; banner.className = 'moved'; }
  }

  // fetchWithin fetches url, giving up after ms.
  function fetchWithin(url, opts, ms) {
    var ctl = window.AbortController ? new AbortController() : null;
    if (ctl) { opts.signal = ctl.signal; setTimeout(function () { ctl.abort(); }, ms); }
    return fetch(url, opts);
  }

  // The resume page: post the hand-off in the fragment to this node,
  // which sets the session cookie, and go back to the page.
  var resume = document.getElementById('resume');
  if (resume) {
    var params = new URLSearchParams(location.hash.slice(1));
    history.replaceState(null, '', location.pathname);
    var path = localPath(params.get('p'));
    var from = (params.get('from') || '').replace(/[^A-Za-z0-9._-]/g, '');
    var form = new URLSearchParams();
    form.set('handoff', params.get('h') || '');
    fetch('/resume', { method: 'POST', body: form, credentials: 'same-origin' }).then(function (r) {
      if (r.ok) {
        location.replace(path + (path.indexOf('?') < 0 ? '?' : '&') + 'moved=' + encodeURIComponent(from));
      } else {
        location.replace('/login?next=' + encodeURIComponent(path));
      }
    }, function () { location.replace('/login?next=' + encodeURIComponent(path)); });
    return;
  }

  var live = body.dataset.live;
  if (!live || !window.EventSource || !window.fetch) { return; }
  // The page comes with a hand-off; the stream sends fresher ones.
  var handoff = body.dataset.handoff || '';
  var source = null;
  var checking = false;

  function here() {
    var q = location.search.replace(/([?&])moved=[^&]*&?/, '$1').replace(/[?&]$/, '');
    return location.pathname + q;
  }

  // moveTo continues the page on another node: through its /resume with
  // the hand-off, or straight to the page for an API token.
  function moveTo(peer) {
    if (source) { source.close(); }
    say((body.dataset.movedText || '%s').replace('%s', node));
    var target = peer.url + (handoff ? '/resume#' + new URLSearchParams({ h: handoff, p: here(), from: node }).toString() : here());
    location.assign(target);
  }

  // failover looks for a node that answers, this one first.
  function failover() {
    if (checking) { return; }
    checking = true;
    say(body.dataset.lostText || '');
    fetchWithin('/healthz', { cache: 'no-store', credentials: 'same-origin' }, 1500).then(function (r) {
      if (!r.ok) { throw new Error('unhealthy'); }
      checking = false;
      if (!source || source.readyState === EventSource.CLOSED) { setTimeout(connect, 1000); }
    }).catch(function () {
      var i = 0;
      function next() {
        if (i >= peers.length) { checking = false; setTimeout(failover, 2000); return; }
        var peer = peers[i++];
        fetchWithin(peer.url + '/healthz', { mode: 'no-cors', cache: 'no-store' }, 1500).then(function () { moveTo(peer); }, next);
      }
      next();
    });
  }

  function connect() {
    source = new EventSource(live);
    source.addEventListener('handoff', function (e) { handoff = e.data; });
    source.addEventListener('peers', function (e) {
      try { peers = JSON.parse(e.data) || peers; } catch (err) { /* keep the ones known */ }
    });
    source.addEventListener('part', function (e) {
      var p = JSON.parse(e.data);
      var el = document.getElementById(p.id);
      if (el) { el.innerHTML = p.html; fillCSRF(el); }
    });
    source.addEventListener('ended', function () { source.close(); location.reload(); });
    source.addEventListener('bye', function () { source.close(); failover(); });
    source.addEventListener('node', function (e) {
      if (banner && banner.className === 'moved' && e.data === node && location.search.indexOf('moved=') < 0) {
        banner.className = '';
      }
    });
    source.onerror = function () { failover(); };
  }
  connect();
})();
