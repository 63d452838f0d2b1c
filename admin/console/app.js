// streamsync operators' console: plain JavaScript over the admin JSON API
// (/api/v1/…), no framework, no network access beyond this server.
'use strict';

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const num = (n) => (typeof n === 'number' ? n.toLocaleString('en') : '—');
const when = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
const record = (entity, key) => (entity || key ? `${esc(entity)}/${esc(key)}` : '—');
const badge = (step) => `<span class="badge ${esc(step)}">${esc(step)}</span>`;
// stamp shows a step's time (RFC 3339 from the API, its fraction trimmed of
// trailing zeros) as "2006-01-02 15:04:05.000": milliseconds always three digits.
const stamp = (ts) => {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts || '');
  return m ? `${m[1]} ${m[2]}.${(m[3] || '').padEnd(3, '0').slice(0, 3)}` : String(ts ?? '');
};

// ---- API ------------------------------------------------------------------

class AuthError extends Error {}

function token() { return sessionStorage.getItem('streamsync.token') || ''; }

// api calls the admin API and returns its JSON; a 401 opens the sign-in form.
async function api(path, body, opts = {}) {
  const init = { headers: {} };
  if (token()) init.headers.Authorization = 'Bearer ' + token();
  if (body !== undefined) {
    init.method = 'POST';
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, init);
  if (r.status === 401) { showLogin('the admin API wants a token'); throw new AuthError('admin token required'); }
  if (opts.allow404 && r.status === 404) return null;
  const text = await r.text();
  let j = null;
  try { j = text ? JSON.parse(text) : null; } catch (e) { j = null; }
  if (!r.ok) throw new Error((j && j.error) || `${r.status} ${text.slice(0, 200)}`);
  return j;
}

function say(text, isError) {
  const m = $('#msg');
  m.textContent = text || '';
  m.className = isError ? 'err' : '';
}

function fail(e) { if (!(e instanceof AuthError)) say(e.message, true); }

// ---- sign in --------------------------------------------------------------

function showLogin(why) {
  $('#login').hidden = false;
  document.querySelector('main').hidden = true;
  $('#login-error').textContent = token() ? 'That token was refused.' : (why || '');
  $('#token').focus();
}

$('#login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem('streamsync.token', $('#token').value);
  $('#login').hidden = true;
  document.querySelector('main').hidden = false;
  route();
});

$('#signout').addEventListener('click', () => { sessionStorage.removeItem('streamsync.token'); $('#token').value = ''; showLogin(''); });

// ---- confirmation ----------------------------------------------------------

function confirmAction(text, okLabel) {
  return new Promise((resolve) => {
    $('#modal-text').textContent = text;
    $('#modal-ok').textContent = okLabel || 'Confirm';
    $('#modal').hidden = false;
    $('#modal-ok').focus();
    const done = (v) => { $('#modal').hidden = true; $('#modal-ok').onclick = null; $('#modal-cancel').onclick = null; resolve(v); };
    $('#modal-ok').onclick = () => done(true);
    $('#modal-cancel').onclick = () => done(false);
  });
}

// replayIDs replays dead letters of one partner (who: the chain's partner,
// else the switch's; '' with one partner).
async function replayIDs(ids, who) {
  if (!ids.length) { say('select dead letters first', true); return false; }
  const ok = await confirmAction(`Replay ${ids.length} dead letter${ids.length > 1 ? 's' : ''}? Each re-enters the events stream with its id and is delivered again.`, 'Replay');
  if (!ok) return false;
  const body = { ids };
  if (who ?? partner) body.partner = who ?? partner;
  const r = await api('/api/v1/dead/replay', body);
  say(`replayed ${r.count}: ${r.replayed.join(', ')}`);
  return true;
}

// ---- partner switch ---------------------------------------------------------

// partner is the partner the pages show, from the URL's partner=… ('' for
// every partner); the switch lists the partners GET /api/v1/partners names.
let partner = '';
let partnersLoaded = false;

// withPartner adds the shown partner to API query parameters.
function withPartner(q) { if (partner) q.set('partner', partner); return q; }

// href is a link to a page of this console that keeps the shown partner.
function href(page, params) {
  const q = withPartner(new URLSearchParams(params || {})).toString();
  return '#' + page + (q ? '?' + q : '');
}

async function loadPartners() {
  const d = await api('/api/v1/partners', undefined, { allow404: true });
  const names = (d && d.partners) || [];
  partnersLoaded = true;
  $('#partner').innerHTML = '<option value="">all partners</option>' + names.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join('');
  showPartner(names.length > 1);
}

// showPartner sets the switch to the shown partner (one the list lacks,
// from a link, is added so the switch never hides it).
function showPartner(visible) {
  const sel = $('#partner');
  if (partner && ![...sel.options].some((o) => o.value === partner)) sel.insertAdjacentHTML('beforeend', `<option value="${esc(partner)}">${esc(partner)}</option>`);
  sel.value = partner;
  if (visible !== undefined) $('#partner-switch').hidden = !visible && !partner;
  else if (partner) $('#partner-switch').hidden = false;
}

$('#partner').addEventListener('change', () => {
  const [name, query] = (location.hash.slice(1) || 'overview').split('?');
  const q = new URLSearchParams(query || '');
  if ($('#partner').value) q.set('partner', $('#partner').value); else q.delete('partner');
  location.hash = name + (q.toString() ? '?' + q : '');
});

// ---- routing --------------------------------------------------------------

const pages = { overview: loadOverview, dead: loadDead, chains: loadChains, chain: loadFamily, reconcile: loadReconcile };
let current = '';

function route() {
  const [name, query] = (location.hash.slice(1) || 'overview').split('?');
  const page = pages[name] ? name : 'overview';
  current = page;
  for (const p of Object.keys(pages)) $('#page-' + p).hidden = p !== page;
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === page));
  say('');
  const params = new URLSearchParams(query || '');
  partner = params.get('partner') || '';
  showPartner();
  document.querySelectorAll('nav a').forEach((a) => a.setAttribute('href', href(a.dataset.page)));
  if (!partnersLoaded) loadPartners().catch(fail);
  pages[page](params).catch(fail);
}

window.addEventListener('hashchange', route);

// ---- overview -------------------------------------------------------------

function card(label, value, cls) {
  return `<div class="card ${cls || ''}" data-key="${esc(label)}"><div class="k">${esc(label)}</div><div class="v">${value}</div></div>`;
}

// stateOf renders breaker_state / partner_auth, which may be a string or an object with a state.
function stateOf(v) {
  if (v === undefined || v === null || v === '') return { text: '—', cls: '' };
  const s = typeof v === 'object' ? (v.state ?? v.status ?? JSON.stringify(v)) : String(v);
  const bad = /open|refused|fail|error|invalid/i.test(s) && !/half/i.test(s);
  const warn = /half/i.test(s);
  return { text: esc(s), cls: bad ? 'bad' : warn ? 'warn' : 'good' };
}

// partnerState reads the breaker and auth state from breaker_state and
// partner_auth, or from a per-process "partner" list ({breaker, auth_ok,
// auth_error}); the worst process wins.
function partnerState(s) {
  if (!Array.isArray(s.partner) || !s.partner.length) return [s.breaker_state, s.partner_auth];
  const rank = { open: 2, 'half-open': 1, closed: 0 };
  const breaker = s.partner.map((p) => p.breaker).reduce((a, b) => ((rank[b] ?? 0) > (rank[a] ?? 0) ? b : a));
  const refused = s.partner.find((p) => p.auth_ok === false);
  return [s.breaker_state ?? breaker, s.partner_auth ?? (refused ? 'refused' : 'ok')];
}

async function loadOverview() {
  const [s, series] = await Promise.all([api('/api/v1/status?' + withPartner(new URLSearchParams())), api('/api/v1/series')]);
  const [breakerState, authState] = partnerState(s);
  const breaker = stateOf(breakerState);
  const auth = stateOf(authState);
  const exp = series.export;
  $('#cards').innerHTML = [
    card('stream length', num(s.stream_length)),
    card('lag', num(s.lag), s.lag > 1000 ? 'warn' : ''),
    card('pending', num(s.pending)),
    card('delayed', num(s.delayed)),
    card('retrying', num(s.retrying), s.retrying > 0 ? 'warn' : ''),
    card('dead', num(s.dead), s.dead > 0 ? 'bad' : ''),
    card('prepared', num(s.prepared)),
    card('breaker', breaker.text, breaker.cls),
    card('partner auth', auth.text, auth.cls),
    card('export lag', exp ? `${exp.seconds.toFixed(1)} s` : '—', exp && exp.seconds > 60 ? 'warn' : ''),
    card('export backlog', exp ? num(exp.backlog_rows) : '—'),
    card('delivered (all time)', num((s.steps || {}).delivered ?? 0)),
  ].join('');
  drawChart(series);
}

function drawChart(series) {
  const W = 900, H = 240, L = 48, R = 10, T = 12, B = 26;
  const now = Date.now(), from = now - series.window_seconds * 1000;
  const pts = series.points.filter((p) => p.t >= from);
  const ymax = Math.max(1, ...pts.map((p) => Math.max(p.delivered, p.dead)));
  const nice = Math.pow(10, Math.floor(Math.log10(ymax)));
  const top = Math.ceil(ymax / nice) * nice;
  const x = (t) => L + ((t - from) / (now - from)) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  let g = '<g class="grid">';
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    g += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"></line><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}</text>`;
  }
  for (let m = 15; m >= 0; m -= 5) {
    const t = now - m * 60000;
    g += `<text x="${x(t)}" y="${H - 8}" text-anchor="middle">${m ? '−' + m + ' min' : 'now'}</text>`;
  }
  g += '</g>';
  const line = (key) => pts.map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
  $('#chart').innerHTML = g + `<polyline class="delivered" points="${line('delivered')}"></polyline><polyline class="dead" points="${line('dead')}"></polyline>`;
  const last = pts[pts.length - 1];
  $('#chart-note').textContent = pts.length
    ? `now: ${last.delivered.toFixed(1)} delivered/s, ${last.dead.toFixed(2)} dead/s; one point every ${series.step_seconds} s`
    : 'collecting: the first point appears after two samples';
}

setInterval(() => { if (current === 'overview' && !document.hidden && $('#login').hidden) loadOverview().catch(fail); }, 5000);

// ---- dead letters ---------------------------------------------------------

const deadState = { cursors: [''], page: 0, next: '', items: [], partner: '' };

async function loadDead(params) {
  if (params && params.get('account')) $('#dead-account').value = params.get('account');
  if (deadState.partner !== partner) { deadState.cursors = ['']; deadState.page = 0; deadState.partner = partner; }
  const q = withPartner(new URLSearchParams({ limit: 50 }));
  const reason = $('#dead-reason').value, account = $('#dead-account').value.trim(), since = $('#dead-since').value;
  if (reason) q.set('reason', reason);
  if (account) q.set('account', account);
  if (since) q.set('since', since);
  const cursor = deadState.cursors[deadState.page];
  if (cursor) q.set('cursor', cursor);
  const d = await api('/api/v1/dead?' + q);
  deadState.items = d.items;
  deadState.next = d.next_cursor;
  $('#dead-all').checked = false;
  $('#dead-rows').innerHTML = d.items.map((x, i) => `
    <tr data-i="${i}" data-id="${esc(x.id)}">
      <td><input type="checkbox" class="pick" value="${esc(x.id)}" aria-label="select ${esc(x.id)}"></td>
      <td class="toggle" title="show fields">▸</td>
      <td>${when(x.dead_at)}</td>
      <td class="mono"><a href="${esc(href('chains', { event_id: x.id }))}" title="timeline">${esc(x.id)}</a></td>
      <td>${esc(x.account)}</td>
      <td class="mono">${record(x.fields.entity, x.fields.key)}</td>
      <td>${badge(x.dead_reason)}</td>
      <td class="num">${x.dead_attempts}</td>
      <td class="err">${esc(x.dead_error)}${x.dead_reason === 'conflict' ? conflictButtons(x) : ''}</td>
    </tr>`).join('') || '<tr><td colspan="9" class="empty">No dead letters match.</td></tr>';
  $('#dead-page').textContent = `page ${deadState.page + 1}, ${d.items.length} shown${d.next_cursor ? ', more follow' : ''}`;
  $('#dead-next').disabled = !d.next_cursor;
  $('#dead-first').disabled = deadState.page === 0;
}

$('#dead-filter').addEventListener('submit', (ev) => { ev.preventDefault(); deadState.cursors = ['']; deadState.page = 0; loadDead().catch(fail); });
$('#dead-next').addEventListener('click', () => { deadState.cursors[deadState.page + 1] = deadState.next; deadState.page++; loadDead().catch(fail); });
$('#dead-first').addEventListener('click', () => { deadState.page = 0; loadDead().catch(fail); });
$('#dead-all').addEventListener('change', (ev) => document.querySelectorAll('#dead-rows .pick').forEach((c) => { c.checked = ev.target.checked; }));
$('#dead-rows').addEventListener('click', (ev) => {
  const t = ev.target.closest('.toggle');
  if (!t) return;
  const tr = t.parentElement;
  const open = tr.nextElementSibling && tr.nextElementSibling.classList.contains('fields');
  if (open) { tr.nextElementSibling.remove(); t.textContent = '▸'; return; }
  const x = deadState.items[+tr.dataset.i];
  const rows = Object.keys(x.fields).sort().map((k) => `<tr><td class="mono">${esc(k)}</td><td class="mono">${esc(x.fields[k])}</td></tr>`).join('');
  tr.insertAdjacentHTML('afterend', `<tr class="fields"><td></td><td colspan="8"><table>${rows}</table></td></tr>`);
  t.textContent = '▾';
});

// conflictButtons settle a conflict dead letter (a two-way partner's
// record changed on both sides, policy manual; docs/partners.md): keep our
// system's record or the partner's. The error above them names both.
function conflictButtons(x) {
  const who = esc(x.partner || partner);
  return `<div class="settle">
    <button type="button" class="take" data-take="ours" data-id="${esc(x.id)}" data-partner="${who}">Keep ours</button>
    <button type="button" class="take" data-take="theirs" data-id="${esc(x.id)}" data-partner="${who}">Keep theirs</button></div>`;
}

// settleConflict replays a conflict dead letter with one side's record:
// it is written to the other side, and the conflict is forgotten.
async function settleConflict(id, who, take) {
  const side = take === 'ours' ? "our system's record; it is written to the partner" : "the partner's record; it is written to our system";
  if (!(await confirmAction(`Settle the conflict of ${id} with ${side}?`, take === 'ours' ? 'Keep ours' : 'Keep theirs'))) return false;
  const body = { ids: [id], take };
  if (who) body.partner = who;
  const r = await api('/api/v1/dead/replay', body);
  say(`settled ${r.count} with ${take}: ${r.replayed.join(', ')}`);
  return true;
}

$('#dead-rows').addEventListener('click', async (ev) => {
  const b = ev.target.closest('button.take');
  if (!b) return;
  try { if (await settleConflict(b.dataset.id, b.dataset.partner, b.dataset.take)) await loadDead(); } catch (e) { fail(e); }
});

const picked = () => [...document.querySelectorAll('#dead-rows .pick:checked')].map((c) => c.value);

$('#dead-replay').addEventListener('click', async () => {
  try { if (await replayIDs(picked())) await loadDead(); } catch (e) { fail(e); }
});

$('#dead-drop').addEventListener('click', async () => {
  try {
    const ids = picked();
    if (!ids.length) return say('select dead letters first', true);
    if (!(await confirmAction(`Drop ${ids.length} dead letter${ids.length > 1 ? 's' : ''} for good? They are removed and never delivered.`, 'Drop'))) return;
    const body = { ids };
    if (partner) body.partner = partner;
    const r = await api('/api/v1/dead/drop', body);
    say(`dropped ${r.count}`);
    await loadDead();
  } catch (e) { fail(e); }
});

// ---- chains ---------------------------------------------------------------

async function loadChains(params) {
  for (const by of ['event_id', 'record', 'account', 'q']) {
    if (params && params.get(by)) {
      $('#chain-by').value = by === 'q' ? 'auto' : by;
      $('#chain-q').value = params.get(by);
      return searchChains(by === 'q' ? 'auto' : by, params.get(by));
    }
  }
  if (!$('#chain-results').innerHTML || $('#chain-results').dataset.partner !== partner) return failedChains();
}

// replayable says whether replaying a chain's dead letter can deliver it: a
// dead one, yes; an invalid one only when it is an op=sync event dead for
// want of a source (replayed once source.kind is set, it reads the record,
// docs/backfill.md) — any other invalid event fails validation again, or has
// no event left to replay (docs/operations.md).
function replayable(c) {
  if (c.last_step === 'dead') return true;
  const last = c.steps[c.steps.length - 1] || {};
  return c.last_step === 'invalid' && (last.error || '').startsWith('op=sync needs a source');
}

function timeline(c) {
  const canReplay = replayable(c);
  const rows = c.steps.map((s) => `<tr>
      <td>${esc(stamp(s.ts))}</td><td>${badge(s.step)}</td><td class="num">${s.attempt}</td>
      <td class="num">${s.http_status || ''}</td><td class="num">${s.latency_us ? (s.latency_us / 1000).toFixed(1) + ' ms' : ''}</td>
      <td class="err">${esc(s.error)}</td><td class="mono">${esc(s.stream_id || '')}</td></tr>`).join('');
  return `<div class="chain" data-chain="${esc(c.chain_id)}" data-partner="${esc(c.partner)}">
    <div class="head"><strong class="mono">${esc(c.chain_id)}</strong><span class="partner">partner ${esc(c.partner)}</span><span>account ${esc(c.account)}</span>
      <span class="mono">${record(c.entity, c.key)}</span>${badge(c.last_step)}<span class="spacer"></span>
      ${canReplay ? `<button type="button" class="primary replay-chain" data-id="${esc(c.chain_id)}" data-partner="${esc(c.partner)}">Replay dead letter</button>` : ''}
    </div>
    <table class="grid"><thead><tr><th>time (UTC)</th><th>step</th><th class="num">attempt</th><th class="num">HTTP</th><th class="num">latency</th><th>error</th><th>stream entry</th></tr></thead>
    <tbody>${rows}</tbody></table></div>`;
}

// truncatedNote says when the server answered only part of what matched
// (it bounds every answer: docs/security.md).
function truncatedNote(d, what) {
  return d && d.truncated ? `<p class="hint" id="truncated">Only the ${d.chains.length} most recent ${what} are shown; more matched. Narrow the search.</p>` : '';
}

// chainView numbers what was last asked of #chain-results: an answer that
// arrives after a newer request (a click on a chain while the failed list
// still loads) is dropped instead of covering the newer view.
let chainView = 0;

async function searchChains(by, value) {
  const view = ++chainView;
  value = value.trim();
  if (!value) return say('type an event id, entity/key or account', true);
  let tries = by === 'auto' ? (value.includes('/') ? ['record'] : ['event_id', 'account']) : [by];
  let d = { chains: [] }, used = tries[0];
  for (const b of tries) {
    used = b;
    d = await api('/api/v1/chain?' + withPartner(new URLSearchParams({ [b]: value, limit: 20 })));
    if (d.chains.length) break;
  }
  if (view !== chainView) return;
  const label = { event_id: 'event', record: 'record', account: 'account' }[used];
  $('#chain-results').dataset.partner = partner;
  $('#chain-results').innerHTML = `<h2>Timeline of ${label} ${esc(value)}</h2>` + truncatedNote(d, 'chains') +
    (d.chains.map(timeline).join('') || '<p class="empty">No steps found in the attempt log (the last 7 days). Steps reach ClickHouse within seconds.</p>');
}

async function failedChains() {
  const view = ++chainView;
  const d = await api('/api/v1/chains?' + withPartner(new URLSearchParams({ since: '1h' })));
  if (view !== chainView) return;
  const rows = d.chains.map((c) => {
    const last = c.steps[c.steps.length - 1] || {};
    return `<tr data-id="${esc(c.chain_id)}" data-partner="${esc(c.partner)}"><td class="mono"><a href="${esc(href('chains', { event_id: c.chain_id }))}">${esc(c.chain_id)}</a></td>
      <td>${esc(c.partner)}</td><td>${esc(c.account)}</td><td class="mono">${record(c.entity, c.key)}</td><td>${badge(c.last_step)}</td>
      <td>${esc((c.last_ts || '').replace('T', ' ').replace('Z', ''))}</td><td class="num">${c.steps_total || c.steps.length}</td><td class="num stranded"><a class="family" href="${esc(familyHref(c.chain_id, c.partner))}" title="the chain's family: its children and their steps">${c.stranded || 0}</a></td><td class="err">${esc(last.error)}</td>
      <td>${replayable(c) ? `<button type="button" class="replay-chain" data-id="${esc(c.chain_id)}" data-partner="${esc(c.partner)}">Replay</button>` : ''}</td></tr>`;
  }).join('');
  $('#chain-results').dataset.partner = partner;
  $('#chain-results').innerHTML = `<h2>Failed and stuck chains, last hour${partner ? ', partner ' + esc(partner) : ''}</h2>${truncatedNote(d, 'failed and stuck chains')}
    <table class="grid" id="failed"><thead><tr><th>chain</th><th>partner</th><th>account</th><th>record</th><th>last step</th><th>at (UTC)</th><th class="num">steps</th><th class="num" title="children still waiting or dead-lettered for it">stranded</th><th>last error</th><th></th></tr></thead>
    <tbody>${rows || '<tr><td colspan="10" class="empty">None: every chain of the last hour ended well or is still moving.</td></tr>'}</tbody></table>`;
}

// ---- a chain's family -----------------------------------------------------

// familyHref is the page of one chain at its partner.
function familyHref(id, who) {
  const q = new URLSearchParams({ id });
  if (who) q.set('partner', who);
  return '#chain?' + q;
}

async function loadFamily(params) {
  const id = (params && params.get('id')) || '';
  if (!id) { $('#family').innerHTML = '<p class="empty">Pick a chain from the failed and stuck chains.</p>'; return; }
  const d = await api('/api/v1/chains/' + encodeURIComponent(id) + '?' + withPartner(new URLSearchParams()), undefined, { allow404: true });
  $('#family').innerHTML = `<h2>Family of chain <span class="mono">${esc(id)}</span></h2>` + ((d ? d.families : []).map((f) => {
    const kids = f.children.map((c) => `<li data-child="${esc(c.chain_id)}"><span class="mono">${esc(c.chain_id)}</span> <span class="mono">${record(c.entity, c.key)}</span> ${badge(c.last_step)}</li>`).join('');
    const rows = f.timeline.map((s) => `<tr class="${s.role}" data-chain="${esc(s.chain_id)}">
      <td>${esc(stamp(s.ts))}</td><td>${s.role === 'parent' ? 'parent' : 'child'} <span class="mono">${esc(s.chain_id)}</span></td>
      <td class="mono">${record(s.entity, s.key)}</td><td>${badge(s.step)}</td><td class="num">${s.attempt}</td><td class="num">${s.http_status || ''}</td><td class="err">${esc(s.error)}</td></tr>`).join('');
    return `<div class="chain family" data-partner="${esc(f.partner)}">
      <div class="head"><strong class="mono">${esc(f.parent.chain_id)}</strong><span class="partner">partner ${esc(f.partner)}</span><span>account ${esc(f.parent.account)}</span>
        <span class="mono">${record(f.parent.entity, f.parent.key)}</span>${badge(f.parent.last_step)}<span class="stranded" title="children still waiting or dead-lettered for it">stranded ${f.parent.stranded || 0}</span></div>
      <p>${f.children.length ? f.children.length + ' child' + (f.children.length > 1 ? 'ren' : '') + ' waited on it:' : 'No child waited on it.'}</p><ul class="children">${kids}</ul>
      ${f.truncated ? '<p class="hint">Only part of a large family is shown.</p>' : ''}
      <table class="grid timeline"><thead><tr><th>time (UTC)</th><th>whose</th><th>record</th><th>step</th><th class="num">attempt</th><th class="num">HTTP</th><th>error</th></tr></thead>
      <tbody>${rows}</tbody></table></div>`;
  }).join('') || '<p class="empty">No such chain in the attempt log.</p>');
}

$('#chain-search').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const by = $('#chain-by').value, v = $('#chain-q').value;
  const hash = href('chains', { [by === 'auto' ? 'q' : by]: v.trim() });
  if (location.hash !== hash) location.hash = hash; else searchChains(by, v).catch(fail);
});
$('#chain-failed').addEventListener('click', () => { if (location.hash !== href('chains')) location.hash = href('chains'); failedChains().catch(fail); });

// Replay from a chain, then follow the chain until its new steps arrive.
$('#chain-results').addEventListener('click', async (ev) => {
  const b = ev.target.closest('.replay-chain');
  if (!b) return;
  try {
    const id = b.dataset.id, who = b.dataset.partner || '';
    if (!(await replayIDs([id], who))) return;
    b.disabled = true;
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const q = new URLSearchParams({ event_id: id });
      if (who) q.set('partner', who);
      const d = await api('/api/v1/chain?' + q);
      const c = d.chains[0];
      if (c && c.last_step !== 'dead' && c.last_step !== 'invalid' && c.last_step !== 'replayed') {
        $('#chain-results').innerHTML = `<h2>Timeline of event ${esc(id)}</h2>` + timeline(c);
        say(`${id}: ${c.last_step}`);
        return;
      }
    }
    say(`${id} replayed; its next steps have not reached the attempt log yet`);
  } catch (e) { fail(e); }
});

// ---- reconciliation -------------------------------------------------------

const classes = ['missing', 'extra', 'behind', 'ahead', 'differs'];

async function loadReconcile() {
  const d = await api('/api/v1/reconcile/runs', undefined, { allow404: true });
  const el = $('#reconcile');
  if (d === null) {
    el.innerHTML = `<h2>Reconciliation not configured</h2><p class="hint">This streamsync does not serve reconciliation runs
      (<code>GET /api/v1/reconcile/runs</code> answered 404). Runs started with <code>streamsync reconcile</code> or
      <code>reconcile.every</code> appear here once the running version serves them.</p>`;
    return;
  }
  const runs = Array.isArray(d) ? d : (d.runs || d.items || []);
  const controls = `<div class="bar" id="reconcile-start"><input id="reconcile-entities" size="40" placeholder="entities, comma-separated (empty: all)">
    <button type="button" id="reconcile-run">Start a run</button><button type="button" id="reconcile-repair">Run and repair</button></div>`;
  if (!runs.length) { el.innerHTML = '<h2>Reconciliation</h2>' + controls + '<p class="empty">No runs yet.</p>'; return; }
  const last = runs[0];
  const most = Math.max(1, ...classes.map((c) => last[c] || 0));
  const bars = classes.map((c) => `<span>${c}</span><div><div class="bar-fill" data-w="${((last[c] || 0) / most) * 100}"></div></div><span class="num">${num(last[c] || 0)}</span>`).join('');
  const fmt = (v) => (typeof v === 'number' ? when(v > 1e12 ? v : v * 1000) : v ? esc(String(v).replace('T', ' ').replace(/\.\d+/, '')) : '—');
  const rows = runs.map((r) => `<tr data-run="${esc(r.run_id)}"><td class="mono">${esc(r.run_id)}</td><td>${fmt(r.started)}</td><td>${esc(r.against)}</td>
    <td>${badge(r.status)}${r.error ? ` <span class="err">${esc(r.error)}</span>` : ''}</td>
    <td class="num">${num(r.ours)}</td><td class="num">${num(r.theirs)}</td><td class="num">${num(r.equal)}</td>
    ${classes.map((c) => `<td class="num">${num(r[c])}</td>`).join('')}<td class="num">${num(r.repaired)}</td></tr>`).join('');
  const diffs = (last.differences || []).map((d) => `<tr><td>${badge(d.class)}</td><td class="mono">${record(d.entity, d.key)}</td>
    <td>${esc(d.account)}</td><td class="num">${d.our_version ?? ''}</td><td class="num">${d.their_version ?? ''}</td></tr>`).join('');
  el.innerHTML = `<h2>Last run ${esc(last.run_id)}: differences by class</h2><div class="classes">${bars}</div>
    ${controls}
    ${diffs ? `<h2>First differences of the last run</h2><table class="grid" id="reconcile-diffs"><thead><tr><th>class</th><th>record</th><th>account</th>
      <th class="num">our version</th><th class="num">their version</th></tr></thead><tbody>${diffs}</tbody></table>` : ''}
    <h2>Runs</h2><table class="grid" id="reconcile-runs"><thead><tr><th>run</th><th>started</th><th>against</th><th>status</th><th class="num">ours</th><th class="num">theirs</th>
    <th class="num">equal</th>${classes.map((c) => `<th class="num">${c}</th>`).join('')}<th class="num">repaired</th></tr></thead><tbody>${rows}</tbody></table>`;
  el.querySelectorAll('.bar-fill').forEach((b) => { b.style.width = b.dataset.w + '%'; });
}

// Start a run (or a run and repair) in the background; the page polls the
// runs until it appears (it is listed once finished).
async function startReconcile(repair) {
  const entities = ($('#reconcile-entities').value || '').split(',').map((x) => x.trim()).filter(Boolean);
  const what = entities.length ? entities.join(', ') : 'every entity';
  const text = repair
    ? `Reconcile ${what} and repair: append repair events for every missing, behind and differing record?`
    : `Start a reconciliation of ${what}? It compares, and changes nothing.`;
  if (!(await confirmAction(text, repair ? 'Run and repair' : 'Start'))) return;
  try {
    const r = await api('/api/v1/reconcile/run', { repair, entities });
    say(`reconciliation ${r.run_id} started; it is listed here when it has finished`);
    for (let i = 0; i < 120 && location.hash === '#reconcile'; i++) {
      await new Promise((ok) => setTimeout(ok, 1000));
      const d = await api('/api/v1/reconcile/runs', undefined, { allow404: true });
      if (d && (d.runs || []).some((x) => x.run_id === r.run_id)) { await loadReconcile(); say(`reconciliation ${r.run_id} finished`); return; }
    }
  } catch (e) { fail(e); }
}

$('#reconcile').addEventListener('click', (ev) => {
  if (ev.target.id === 'reconcile-run') startReconcile(false);
  if (ev.target.id === 'reconcile-repair') startReconcile(true);
});

// ---- start ----------------------------------------------------------------

// Ask for the token first when the server wants one and none is kept, so the
// first page load makes no refused call.
fetch('/console/auth').then((r) => r.json()).then((a) => {
  if (a.token_required && !token()) showLogin('');
  else route();
}).catch(() => route());
