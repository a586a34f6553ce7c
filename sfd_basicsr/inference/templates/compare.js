// basicsr compare: one image at a time, zoom and pan shared by every pane of it, a before/after slider,
// sortable tables, the realness map as a toggle. No library, no network.
(function () {
  'use strict';
  var articles = Array.prototype.slice.call(document.querySelectorAll('main article'));
  var thumbs = Array.prototype.slice.call(document.querySelectorAll('#thumbs a'));
  var views = new Map();  // article -> {s, tx, ty, x}: zoom, pan (fractions of the pane) and slider position
  var current = -1;

  function state(article) {
    if (!views.has(article)) views.set(article, {s: 1, tx: 0, ty: 0, x: 0.5});
    return views.get(article);
  }

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  function apply(article) {
    var v = state(article);
    v.tx = clamp(v.tx, 1 - v.s, 0);
    v.ty = clamp(v.ty, 1 - v.s, 0);
    var transform = 'translate(' + v.tx * 100 + '%, ' + v.ty * 100 + '%) scale(' + v.s + ')';
    article.querySelectorAll('.layer').forEach(function (layer) { layer.style.transform = transform; });
    article.querySelector('.clip').style.clipPath = 'inset(0 ' + (1 - v.x) * 100 + '% 0 0)';
    article.querySelector('.handle').style.left = v.x * 100 + '%';
  }

  function zoom(article, factor, u, w) {  // keeps the point under (u, w) of the view where it is
    var v = state(article), s = clamp(v.s * factor, 1, 64);
    v.tx = u - (u - v.tx) * s / v.s;
    v.ty = w - (w - v.ty) * s / v.s;
    v.s = s;
    apply(article);
  }

  function fillSlider(article) {
    var sides = [['.layer.over', '.pick-a', '.side.left'], ['.layer.under', '.pick-b', '.side.right']];
    sides.forEach(function (side) {
      var layer = article.querySelector(side[0]), label = article.querySelector(side[1]).value;
      var source = Array.prototype.find.call(article.querySelectorAll('.panes .layer'),
                                             function (l) { return l.dataset.pane === label; });
      layer.dataset.pane = label;
      layer.textContent = '';
      source.querySelectorAll('img').forEach(function (img) {
        var copy = img.cloneNode();
        copy.loading = 'eager';
        layer.appendChild(copy);
      });
      article.querySelector(side[2]).textContent = label;
    });
  }

  function show(index) {
    index = clamp(index, 0, articles.length - 1);
    if (index === current) return;
    var first = current < 0;
    articles.forEach(function (a, i) { a.hidden = i !== index; });
    thumbs.forEach(function (t, i) { t.classList.toggle('current', i === index); });
    current = index;
    var article = articles[index];
    if (!article.dataset.ready) { fillSlider(article); article.dataset.ready = '1'; }
    apply(article);
    // not while the page loads: the browser would then scroll to the article
    if (!first && location.hash !== '#' + article.id) history.replaceState(null, '', '#' + article.id);
  }

  articles.forEach(function (article) {
    article.querySelectorAll('.view').forEach(function (view) {
      view.addEventListener('wheel', function (event) {
        event.preventDefault();
        var r = view.getBoundingClientRect();
        zoom(article, Math.exp(-event.deltaY * 0.0015), (event.clientX - r.left) / r.width,
             (event.clientY - r.top) / r.height);
      }, {passive: false});
      view.addEventListener('pointerdown', function (event) {
        var r = view.getBoundingClientRect(), v = state(article), handle = event.target.closest('.handle');
        var last = [event.clientX, event.clientY];
        view.setPointerCapture(event.pointerId);
        function move(e) {
          if (handle) {
            v.x = clamp((e.clientX - r.left) / r.width, 0, 1);
          } else {
            v.tx += (e.clientX - last[0]) / r.width;
            v.ty += (e.clientY - last[1]) / r.height;
          }
          last = [e.clientX, e.clientY];
          apply(article);
        }
        function up() {
          view.removeEventListener('pointermove', move);
          view.removeEventListener('pointerup', up);
        }
        view.addEventListener('pointermove', move);
        view.addEventListener('pointerup', up);
        event.preventDefault();
      });
    });
    article.querySelectorAll('select').forEach(function (select) {
      select.addEventListener('change', function () { fillSlider(article); });
    });
  });

  thumbs.forEach(function (thumb, i) {
    thumb.addEventListener('click', function (event) { event.preventDefault(); show(i); });
  });

  var mapBox = document.getElementById('show-map');
  mapBox.addEventListener('change', function () { document.body.classList.toggle('maps', mapBox.checked); });

  document.addEventListener('keydown', function (event) {
    if (event.target.tagName === 'SELECT' || event.target.tagName === 'INPUT' || event.ctrlKey || event.metaKey) return;
    var article = articles[current];
    var actions = {
      ArrowRight: function () { show(current + 1); }, ArrowLeft: function () { show(current - 1); },
      Home: function () { show(0); }, End: function () { show(articles.length - 1); },
      '+': function () { zoom(article, 1.5, 0.5, 0.5); }, '=': function () { zoom(article, 1.5, 0.5, 0.5); },
      '-': function () { zoom(article, 1 / 1.5, 0.5, 0.5); },
      '0': function () { var v = state(article); v.s = 1; v.tx = 0; v.ty = 0; apply(article); },
      m: function () { if (!mapBox.disabled) { mapBox.checked = !mapBox.checked; mapBox.dispatchEvent(new Event('change')); } },
      s: function () {
        var a = article.querySelector('.pick-a'), b = article.querySelector('.pick-b'), keep = a.value;
        a.value = b.value; b.value = keep; fillSlider(article);
      }
    };
    if (actions[event.key]) { event.preventDefault(); actions[event.key](); }
  });

  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('thead th').forEach(function (th, column) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var bestFirst = column > 0 && th.dataset.higher === '1' ? -1 : 1, descending = th.classList.contains('sorted') ?
          -Number(th.dataset.order) : bestFirst;
        rows.sort(function (p, q) {
          if (column === 0) return p.cells[0].textContent.localeCompare(q.cells[0].textContent) * descending;
          var a = parseFloat(p.cells[column].dataset.value), b = parseFloat(q.cells[column].dataset.value);
          if (isNaN(a) !== isNaN(b)) return isNaN(a) ? 1 : -1;  // rows without a value last
          return ((a > b) - (a < b)) * descending;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        table.querySelectorAll('thead th').forEach(function (other) { other.classList.remove('sorted'); });
        th.classList.add('sorted');
        th.dataset.order = descending;
      });
    });
  });

  var start = articles.findIndex(function (a) { return '#' + a.id === location.hash; });
  show(start < 0 ? 0 : start);
})();
