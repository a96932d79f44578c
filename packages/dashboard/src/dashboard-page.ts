import { DATA_CALLBACK_NAME, DATA_FOLDER_NAME } from './data-file-names.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content and quoted attributes: a run name comes from files we did not write. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character]!);
}

/** Pixels per row of the feature list; the list renders only the rows in view, so 100,000 features cost as little as 100. */
const ROW_HEIGHT = 26;

const STYLE = `
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1f2328; background: #fff; display: flex; flex-direction: column; height: 100vh; }
header { padding: 8px 16px; border-bottom: 1px solid #d0d7de; background: #f6f8fa; }
header h1 { font-size: 18px; margin: 0 0 2px; }
header .meta { color: #57606a; font-size: 12px; }
main { flex: 1; display: flex; min-height: 0; }
#sidebar { width: 330px; border-right: 1px solid #d0d7de; display: flex; flex-direction: column; min-height: 0; }
#controls { padding: 8px; display: flex; flex-direction: column; gap: 6px; border-bottom: 1px solid #d0d7de; }
#search { width: 100%; padding: 6px 8px; font: inherit; border: 1px solid #d0d7de; border-radius: 6px; }
#sort { font: inherit; }
#list-status { font-size: 12px; color: #57606a; }
#list { flex: 1; overflow-y: auto; position: relative; }
#list .spacer { position: relative; }
.row { position: absolute; left: 0; right: 0; height: ${ROW_HEIGHT}px; display: flex; align-items: center; gap: 8px; padding: 0 10px; cursor: pointer; font-size: 13px; font-variant-numeric: tabular-nums; }
.row:hover { background: #f3f4f6; }
.row.selected { background: #ddf4ff; }
.row .index { width: 70px; font-weight: 600; }
.row .density, .row .max { width: 95px; color: #57606a; text-align: right; }
#detail { flex: 1; overflow-y: auto; padding: 12px 20px; }
#detail h2 { margin: 0 0 8px; font-size: 20px; }
.metrics { display: flex; gap: 24px; margin-bottom: 8px; }
.metric .value { font-size: 18px; font-weight: 600; }
.metric .label { font-size: 12px; color: #57606a; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.example { margin: 4px 0; }
.example .caption { font-size: 12px; color: #57606a; }
.strip { font: 13px/1.9 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre-wrap; word-break: break-all; }
.token { border-radius: 3px; padding: 1px 0; }
.token.peak { outline: 2px solid #0969da; }
.empty { color: #57606a; font-style: italic; }
.logits { display: flex; gap: 48px; }
.logit { font: 13px/1.7 ui-monospace, SFMono-Regular, Menlo, monospace; display: flex; gap: 12px; }
.logit-value { color: #57606a; }
svg text { font: 11px system-ui, sans-serif; fill: #57606a; }
`;

/**
 * The page's script. It is plain ES2017 in a string (no build step, no
 * network): data arrives through data scripts appended to
 * the page, since browsers refuse fetch() from file://. Data is put into
 * the page with textContent and SVG attributes only, never as markup.
 */
const SCRIPT = `
(function () {
  'use strict';
  var ROW_HEIGHT = ${ROW_HEIGHT};
  var waiting = {};
  var loaded = {};
  window.${DATA_CALLBACK_NAME} = function (name, payload) {
    loaded[name] = payload;
    (waiting[name] || []).forEach(function (resolve) { resolve(payload); });
    delete waiting[name];
  };
  function load(name) {
    if (loaded[name]) return Promise.resolve(loaded[name]);
    return new Promise(function (resolve, reject) {
      if (!waiting[name]) {
        waiting[name] = [];
        var script = document.createElement('script');
        script.src = '${DATA_FOLDER_NAME}/' + name + '.js';
        script.onerror = function () { reject(new Error('cannot load ' + script.src)); };
        document.head.appendChild(script);
      }
      waiting[name].push(resolve);
    });
  }
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attributes) {
    var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, String(attributes[key])); });
    return node;
  }
  function format(value) {
    if (value === 0) return '0';
    var magnitude = Math.abs(value);
    if (magnitude >= 1e4 || magnitude < 1e-3) return value.toExponential(2);
    return value.toPrecision(3);
  }
  function percent(value) {
    if (value === 0) return '0%';
    return value >= 0.001 ? (value * 100).toPrecision(3) + '%' : (value * 100).toExponential(1) + '%';
  }
  /** What a token looks like in a strip: newlines and tabs made visible, so no token disappears. */
  function shown(text) {
    return text.replace(/\\n/g, '\\u21b5\\n').replace(/\\t/g, '\\u2192');
  }

  var state = { meta: null, tokens: null, order: [], sort: 'index', filter: null, selected: null, filterLabel: '' };
  var list = document.getElementById('list');
  var spacer = element('div', 'spacer');
  list.appendChild(spacer);
  var status = document.getElementById('list-status');
  var detail = document.getElementById('detail');
  var search = document.getElementById('search');
  var sort = document.getElementById('sort');

  function positionOf(feature) { return feature - state.meta.range.start; }

  function sortedOrder() {
    var meta = state.meta;
    var positions = state.filter ? state.filter.slice() : meta.feature.map(function (_, position) { return position; });
    if (state.sort === 'density') positions.sort(function (a, b) { return meta.density[b] - meta.density[a] || a - b; });
    else if (state.sort === 'max') positions.sort(function (a, b) { return meta.max[b] - meta.max[a] || a - b; });
    else if (!state.filter) positions.sort(function (a, b) { return a - b; });
    return positions;
  }

  function refreshList() {
    state.order = sortedOrder();
    spacer.style.height = (state.order.length * ROW_HEIGHT) + 'px';
    status.textContent = state.filterLabel || (state.order.length + ' features of ' + state.meta.featureCount);
    renderRows();
  }

  /** Only the rows in view (and a few around them) exist in the DOM. */
  function renderRows() {
    var meta = state.meta;
    var first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - 5);
    var last = Math.min(state.order.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_HEIGHT) + 5);
    while (spacer.firstChild) spacer.removeChild(spacer.firstChild);
    for (var rank = first; rank < last; rank++) {
      var position = state.order[rank];
      var row = element('div', 'row' + (meta.feature[position] === state.selected ? ' selected' : ''));
      row.style.top = (rank * ROW_HEIGHT) + 'px';
      row.setAttribute('data-feature', String(meta.feature[position]));
      row.appendChild(element('span', 'index', '#' + meta.feature[position]));
      if (meta.name) row.title = meta.name[position];
      row.appendChild(element('span', 'density', percent(meta.density[position])));
      row.appendChild(element('span', 'max', 'max ' + format(meta.max[position])));
      spacer.appendChild(row);
    }
  }

  list.addEventListener('scroll', function () { window.requestAnimationFrame(renderRows); });
  list.addEventListener('click', function (event) {
    var row = event.target.closest('.row');
    if (row) select(Number(row.getAttribute('data-feature')));
  });
  sort.addEventListener('change', function () { state.sort = sort.value; list.scrollTop = 0; refreshList(); });
  search.addEventListener('input', function () { applySearch(search.value); });

  /** A number selects that feature; any other text finds the tokens with that text (exactly, else containing it) and lists the features that peak on them. */
  function applySearch(query) {
    var meta = state.meta;
    if (query === '') { state.filter = null; state.filterLabel = ''; refreshList(); return; }
    var trimmed = query.trim();
    if (/^#?\\d+$/.test(trimmed)) {
      var feature = Number(trimmed.replace('#', ''));
      var position = positionOf(feature);
      if (position >= 0 && position < meta.feature.length) {
        state.filter = [position];
        state.filterLabel = 'feature ' + feature;
        refreshList();
        select(feature);
      } else {
        state.filter = [];
        state.filterLabel = 'feature ' + feature + ' is not in this dashboard (features ' + meta.range.start + '-' + (meta.range.end - 1) + ')';
        refreshList();
      }
      return;
    }
    var text = state.tokens.text;
    var ids = Object.keys(text).filter(function (id) { return text[id] === query; });
    var how = 'exactly';
    if (ids.length === 0) {
      var needle = trimmed.toLowerCase();
      ids = Object.keys(text).filter(function (id) { return text[id].toLowerCase().indexOf(needle) !== -1; });
      how = 'containing';
    }
    var seen = {};
    var positions = [];
    ids.forEach(function (id) {
      (state.tokens.peaks[id] || []).forEach(function (feature) {
        if (!seen[feature]) { seen[feature] = true; positions.push(positionOf(feature)); }
      });
    });
    state.filter = positions;
    state.filterLabel = positions.length + ' features peak on ' + ids.length + ' token(s) ' + how + ' ' + JSON.stringify(query);
    list.scrollTop = 0;
    refreshList();
  }

  function select(feature) {
    state.selected = feature;
    renderRows();
    if (window.location.hash !== '#feature=' + feature) history.replaceState(null, '', '#feature=' + feature);
    var position = positionOf(feature);
    var chunk = Math.floor(position / state.meta.chunkSize);
    detail.textContent = '';
    detail.appendChild(element('h2', '', featureTitle(feature)));
    detail.appendChild(element('p', 'empty', 'loading...'));
    load('chunk-' + chunk).then(function (features) {
      if (state.selected !== feature) return;
      showFeature(feature, features[feature]);
    }, function (error) {
      detail.appendChild(element('p', 'empty', String(error)));
    });
  }

  function metric(value, label) {
    var node = element('div', 'metric');
    node.appendChild(element('div', 'value', value));
    node.appendChild(element('div', 'label', label));
    return node;
  }

  /** 'Feature N', with the decomposition's name for it when it names features (SPD: 'blocks.0.mlp.W_in:17'). */
  function featureTitle(feature) {
    return 'Feature ' + feature + (state.meta.name ? ' (' + state.meta.name[positionOf(feature)] + ')' : '');
  }

  function showFeature(feature, data) {
    detail.textContent = '';
    detail.setAttribute('data-shown', String(feature));
    detail.appendChild(element('h2', '', featureTitle(feature)));
    var metrics = element('div', 'metrics');
    metrics.appendChild(metric(percent(data.density), 'density (' + data.firings + ' of ' + state.meta.tokens + ' tokens)'));
    metrics.appendChild(metric(format(data.max), 'max ' + state.meta.valueLabel));
    metrics.appendChild(metric(String(data.top.length), 'top examples'));
    detail.appendChild(metrics);
    detail.appendChild(element('h3', '', 'Non-zero ' + state.meta.valueLabel + ' values'));
    detail.appendChild(histogram(data.histogram));
    if (data.logits) detail.appendChild(logitTable(data.logits));
    detail.appendChild(element('h3', '', 'Top ' + state.meta.valueLabel + ' examples'));
    var top = element('div', 'examples top-examples');
    if (data.top.length === 0) top.appendChild(element('p', 'empty', 'Its ' + state.meta.valueLabel + ' was never positive on the collected tokens.'));
    data.top.forEach(function (example, rank) { top.appendChild(strip(example, 'Example ' + (rank + 1))); });
    detail.appendChild(top);
    if (data.quantiles.length > 0) {
      detail.appendChild(element('h3', '', 'Across the range (a uniform sample of firing sequences, by decile of their maximum)'));
      var quantiles = element('div', 'examples quantile-examples');
      for (var decile = 9; decile >= 0; decile--) {
        data.quantiles.filter(function (example) { return example.decile === decile; }).forEach(function (example) {
          quantiles.appendChild(strip(example, 'Decile ' + (decile + 1)));
        });
      }
      detail.appendChild(quantiles);
    }
  }

  /** The tokens the feature's direction at a residual hook raises and lowers most (through the final norm's scale and the unembedding). */
  function logitTable(logits) {
    var node = element('div', 'logits');
    [['raised', 'Raises the logits of', '66, 133, 244'], ['lowered', 'Lowers the logits of', '234, 67, 53']].forEach(function (side) {
      var column = element('div', 'logit-column logits-' + side[0]);
      column.appendChild(element('h3', '', side[1]));
      logits[side[0]].forEach(function (pair) {
        var text = state.tokens.text[pair[0]];
        if (text === undefined) text = '#' + pair[0];
        var row = element('div', 'logit');
        var token = element('span', 'token', shown(text));
        token.style.backgroundColor = 'rgba(' + side[2] + ', 0.25)';
        token.title = JSON.stringify(text) + ' (token ' + pair[0] + ')';
        row.appendChild(token);
        row.appendChild(element('span', 'logit-value', (pair[1] > 0 ? '+' : '') + format(pair[1])));
        column.appendChild(row);
      });
      node.appendChild(column);
    });
    node.title = 'Direction at ' + logits.hook + ' x final norm scale x unembedding, per unit of activation';
    return node;
  }

  function strip(example, label) {
    var node = element('div', 'example');
    node.appendChild(element('div', 'caption', label + ': ' + format(example.max) + ' at position ' + (example.start + example.maxIndex) + ' of sequence ' + example.sequence));
    var line = element('div', 'strip');
    var scale = 0;
    example.values.forEach(function (value) { scale = Math.max(scale, Math.abs(value)); });
    example.tokens.forEach(function (token, index) {
      var value = example.values[index];
      var text = state.tokens.text[token];
      if (text === undefined) text = '#' + token;
      var span = element('span', 'token' + (index === example.maxIndex ? ' peak' : ''), shown(text));
      var alpha = scale > 0 ? 0.8 * Math.max(0, value) / scale : 0;
      span.style.backgroundColor = 'rgba(66, 133, 244, ' + alpha.toFixed(3) + ')';
      span.title = JSON.stringify(text) + ' (token ' + token + ')\\nposition ' + (example.start + index) + '\\n' + state.meta.valueLabel + ' ' + format(value);
      line.appendChild(span);
    });
    node.appendChild(line);
    return node;
  }

  /** Bars over the bins that hold values, log-spaced on x with a label per decade. */
  function histogram(data) {
    var counts = data.counts;
    var first = counts.findIndex(function (count) { return count > 0; });
    if (first === -1) return element('p', 'empty', 'No non-zero activations.');
    var last = counts.length - 1;
    while (counts[last] === 0) last--;
    first = Math.max(0, first - 1);
    last = Math.min(counts.length - 1, last + 1);
    var width = 560, height = 150, left = 44, bottom = 22, top = 8;
    var bins = last - first + 1;
    var barWidth = (width - left - 4) / bins;
    var highest = Math.max.apply(null, counts.slice(first, last + 1));
    var chart = svg('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, class: 'histogram', role: 'img' });
    chart.appendChild(svg('line', { x1: left, x2: width, y1: height - bottom, y2: height - bottom, stroke: '#8c959f' }));
    for (var bin = first; bin <= last; bin++) {
      var barHeight = (height - bottom - top) * counts[bin] / highest;
      var bar = svg('rect', { x: left + (bin - first) * barWidth, y: height - bottom - barHeight, width: Math.max(1, barWidth - 1), height: barHeight, fill: '#4285f4' });
      var low = Math.pow(10, data.log10Low + bin / data.binsPerDecade);
      var title = svg('title', {});
      title.textContent = format(low) + ' to ' + format(low * Math.pow(10, 1 / data.binsPerDecade)) + ': ' + counts[bin];
      bar.appendChild(title);
      chart.appendChild(bar);
      var nearEnds = bin - first < 4 || last + 1 - bin < 4;
      if (bin === first || (bin % data.binsPerDecade === 0 && !nearEnds)) edgeLabel(chart, left + (bin - first) * barWidth, data.log10Low + bin / data.binsPerDecade);
    }
    edgeLabel(chart, left + bins * barWidth, data.log10Low + (last + 1) / data.binsPerDecade, 'end');
    var peak = svg('text', { x: left - 4, y: top + 10, 'text-anchor': 'end' });
    peak.textContent = String(highest);
    chart.appendChild(peak);
    return chart;
  }

  function edgeLabel(chart, x, log10, anchor) {
    var label = svg('text', { x: x, y: 150 - 6, 'text-anchor': anchor || 'middle' });
    label.textContent = format(Math.pow(10, log10));
    chart.appendChild(label);
  }

  Promise.all([load('features'), load('tokens')]).then(function (results) {
    state.meta = results[0];
    state.tokens = results[1];
    var meta = state.meta;
    document.title = meta.title;
    sort.querySelector('option[value="max"]').textContent = 'max ' + meta.valueLabel;
    document.getElementById('meta').textContent = meta.architecture + ' reading ' + meta.reads.join(', ') + ', writing ' + meta.writes.join(', ') +
      '; features ' + meta.range.start + '-' + (meta.range.end - 1) + ' of ' + meta.featureCount + '; ' + meta.tokens + ' tokens';
    refreshList();
    var match = /^#feature=(\\d+)$/.exec(window.location.hash);
    if (match) select(Number(match[1]));
    else if (meta.feature.length > 0) select(meta.feature[0]);
    document.body.setAttribute('data-ready', 'true');
  }, function (error) {
    detail.textContent = String(error) + ' (the data folder must sit beside index.html)';
  });
})();
`;

/** index.html: the whole app, with styles and script inline; it reads its data from the `data/` folder beside it. */
export function dashboardPage(options: { title: string }): string {
  const title = escapeHtml(options.title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${title}</h1><div class="meta" id="meta">loading...</div></header>
<main>
<nav id="sidebar">
<div id="controls">
<input id="search" type="search" placeholder="Feature index, or token text (e.g. ' Congress')" autocomplete="off">
<label>Sort by <select id="sort"><option value="index">index</option><option value="density">density</option><option value="max">max activation</option></select></label>
<div id="list-status"></div>
</div>
<div id="list"></div>
</nav>
<section id="detail"></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
