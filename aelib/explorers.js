// The explorers of aelib.widgets, computed in the page: the latent explorer and the noise playground.
//
// aelib.widgets puts this file into every explorer's HTML output; its first run defines
// window.aelibExplorers, which every later explorer on the page reuses. Under Node (the tests),
// require() returns the same object: forward and layoutLabels need no page.
//
// forward is MLP._forward of aelib written again: per layer A = H W + b, then the layer's
// activation, with the sigmoid written as (1 + tanh(a / 2)) / 2 as in aelib.activations.
var aelibExplorers = (typeof window !== "undefined" && window.aelibExplorers) || (function () {
  "use strict";
  var activations = {
    identity: function (a) { return a; },
    sigmoid: function (a) { return 0.5 * (1 + Math.tanh(0.5 * a)); },
    tanh: Math.tanh,
    relu: function (a) { return a > 0 ? a : 0; }
  };
  function weights(stage) {
    var bytes = atob(stage.weights), buffer = new ArrayBuffer(bytes.length), view = new Uint8Array(buffer);
    for (var i = 0; i < bytes.length; i++) view[i] = bytes.charCodeAt(i);
    return new Float64Array(buffer);
  }
  // The networks' forward pass: per layer A = H W + b (W row-major, fan_in x fan_out), H = act(A).
  function forward(network, input) {
    var h = input.slice();
    network.forEach(function (stage) {
      var w = stage.flat || (stage.flat = weights(stage)), offset = 0;
      for (var l = 0; l + 1 < stage.sizes.length; l++) {
        var nIn = stage.sizes[l], nOut = stage.sizes[l + 1], act = activations[stage.activations[l]];
        var out = new Array(nOut);
        for (var j = 0; j < nOut; j++) {
          var a = 0;
          for (var i = 0; i < nIn; i++) a += h[i] * w[offset + i * nOut + j];
          out[j] = a;
        }
        offset += nIn * nOut;
        for (j = 0; j < nOut; j++) out[j] = act(out[j] + w[offset + j]);
        offset += nOut;
        h = out;
      }
      if (stage.take !== null) h = h.slice(0, stage.take);
    });
    return h;
  }
  var LABEL_HEIGHT = 15;  // a line of bold 13px text, in canvas pixels
  function clip(v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }
  // Pixels with the "binary" colour map of aelib.plots: 0 is white, 1 is black.
  function grey(v) { var g = Math.round(255 * (1 - clip(v))); return "rgb(" + g + "," + g + "," + g + ")"; }
  function drawGlyph(ctx, pixels, shape, x0, y0, cell) {
    for (var r = 0; r < shape[0]; r++) for (var c = 0; c < shape[1]; c++) {
      ctx.fillStyle = grey(pixels[r * shape[1] + c]);
      ctx.fillRect(x0 + c * cell, y0 + r * cell, cell, cell);
    }
  }
  function fmt(v) { return (v < 0 ? "\u2212" : "") + Math.abs(v).toFixed(2); }

  // Where to write the names of the marked codes: each near its point, wholly inside the box,
  // and none over another. points: [[x, y], ...] in canvas pixels; widths: each name's width;
  // height: a name's height; box: [left, top, right, bottom]. The points with the fewest
  // neighbours are placed first, each at the first free spot among: centred on its point, then
  // beside, above, below and diagonally off it, ever further out (moved into the box where it
  // would cross an edge). A name with no free spot within reach is dropped: the plane's text
  // alternative lists it. Returns one {x, y, width, height, shown, moved} per point: the centre
  // of the name's box, whether it is drawn, and whether it sits away from its point (a leader
  // line then joins them).
  function layoutLabels(points, widths, height, box) {
    var directions = [[1, 0], [-1, 0], [0, -1], [0, 1], [1, -1], [-1, -1], [1, 1], [-1, 1]];
    var reach = 2 * height, gap = 1;
    function clamp(v, lo, hi) { return Math.min(Math.max(v, lo), hi); }
    var crowding = points.map(function (p) {
      return points.filter(function (q) { return Math.hypot(p[0] - q[0], p[1] - q[1]) < reach; }).length;
    });
    var order = points.map(function (p, k) { return k; });
    order.sort(function (a, b) { return crowding[a] - crowding[b] || a - b; });
    var placed = [], result = new Array(points.length);
    order.forEach(function (k) {
      var w = widths[k], p = [clamp(points[k][0], box[0], box[2]), clamp(points[k][1], box[1], box[3])];
      result[k] = {x: p[0], y: p[1], width: w, height: height, shown: false, moved: false};
      if (w > box[2] - box[0] || height > box[3] - box[1]) return;
      for (var ring = 0; ring <= 5; ring++) {
        for (var d = 0; d < (ring ? directions.length : 1); d++) {
          var dx = ring ? directions[d][0] : 0, dy = ring ? directions[d][1] : 0;
          var x = p[0] + dx * (w / 2 + 0.6 * ring * height), y = p[1] + dy * (height / 2 + 0.6 * ring * height);
          x = clamp(x, box[0] + w / 2, box[2] - w / 2);
          y = clamp(y, box[1] + height / 2, box[3] - height / 2);
          var free = placed.every(function (r) {
            return Math.abs(r.x - x) >= (r.width + w) / 2 + gap || Math.abs(r.y - y) >= (r.height + height) / 2 + gap;
          });
          if (free) {
            var moved = Math.abs(x - p[0]) > w / 2 + 2 || Math.abs(y - p[1]) > height / 2 + 2;
            result[k] = {x: x, y: y, width: w, height: height, shown: true, moved: moved};
            placed.push(result[k]);
            return;
          }
        }
      }
    });
    return result;
  }
  // The names that layoutLabels could not place, for the text alternative.
  function droppedNames(labels, layout) {
    return labels.filter(function (label, k) { return label && !layout[k].shown; });
  }
  function spec(root) { return JSON.parse(root.querySelector("script.aelib-spec").textContent); }

  function latent(root) {
    if (!root || root.dataset.ready) return;
    root.dataset.ready = "1";
    var s = spec(root), sliders = root.querySelectorAll("input[type=range]");
    var plane = root.querySelector(".aelib-plane"), glyph = root.querySelector(".aelib-glyph");
    var readout = root.querySelector(".aelib-readout");
    var lo = [s.range[0] * s.step, s.range[2] * s.step], hi = [s.range[1] * s.step, s.range[3] * s.step];
    var cell = Math.max(8, Math.floor(220 / Math.max(s.shape[0], s.shape[1])));
    glyph.width = s.shape[1] * cell; glyph.height = s.shape[0] * cell;
    var size = plane.width, pad = 34, frame = [pad, 8, size - 8, size - pad];
    function toPx(z) {
      return [pad + (z[0] - lo[0]) / (hi[0] - lo[0]) * (size - pad - 8),
              size - pad - (z[1] - lo[1]) / (hi[1] - lo[1]) * (size - pad - 8)];
    }
    function value(slider) {
      // The slider's value as the whole number of steps it stands for, times the step.
      return Math.round(parseFloat(slider.value) / s.step) * s.step;
    }
    // The names of the marked codes are laid out once: the codes do not move.
    var points = s.marked.map(function (m) { return toPx(m); });
    var measure = plane.getContext("2d");
    measure.font = "bold 13px sans-serif";
    var layout = layoutLabels(points, s.labels.map(function (label) { return label ? measure.measureText(label).width : 0; }),
                              LABEL_HEIGHT, frame);
    var dropped = droppedNames(s.labels, layout);
    function drawPlane(z) {
      var ctx = plane.getContext("2d");
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, size, size);
      ctx.strokeStyle = "#ddd"; ctx.lineWidth = 1; ctx.fillStyle = "#222"; ctx.font = "11px sans-serif";
      // Ticks 1, 2, 5, 10, ... units apart, so that at most 8 labels share an axis.
      var span = Math.max(hi[0] - lo[0], hi[1] - lo[1]), tick = 1;
      while (span / tick > 8) tick *= (String(tick)[0] === "2" ? 2.5 : 2);
      for (var t = Math.ceil(Math.min(lo[0], lo[1]) / tick) * tick; t <= Math.max(hi[0], hi[1]); t += tick) {
        var p = toPx([t, t]);
        if (t >= lo[0] && t <= hi[0]) {
          ctx.beginPath(); ctx.moveTo(p[0], 8); ctx.lineTo(p[0], size - pad); ctx.stroke();
          ctx.textAlign = "center"; ctx.fillText(String(t), p[0], size - pad + 13);
        }
        if (t >= lo[1] && t <= hi[1]) {
          ctx.beginPath(); ctx.moveTo(pad, p[1]); ctx.lineTo(size - 8, p[1]); ctx.stroke();
          ctx.textAlign = "right"; ctx.fillText(String(t), pad - 4, p[1] + 4);
        }
      }
      ctx.strokeStyle = "#767676"; ctx.strokeRect(pad, 8, size - pad - 8, size - pad - 8);
      ctx.textAlign = "center"; ctx.fillText("z\u2081", (size + pad) / 2, size - 6);
      ctx.save(); ctx.translate(10, (size - pad) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText("z\u2082", 0, 0); ctx.restore();
      ctx.font = "bold 13px sans-serif"; ctx.fillStyle = s.colors.mark; ctx.strokeStyle = s.colors.mark;
      ctx.textBaseline = "middle"; ctx.textAlign = "center"; ctx.lineWidth = 1;
      layout.forEach(function (place, k) {
        var q = points[k];
        if (!s.labels[k] || place.moved || !place.shown) {
          // A dot marks the code itself where no name is drawn on it.
          ctx.beginPath(); ctx.arc(q[0], q[1], 2.5, 0, 2 * Math.PI); ctx.fill();
        }
        if (!s.labels[k] || !place.shown) return;
        if (place.moved) {
          // A leader line from the code to the nearest point of its name's box.
          var ex = Math.min(Math.max(q[0], place.x - place.width / 2), place.x + place.width / 2);
          var ey = Math.min(Math.max(q[1], place.y - place.height / 2), place.y + place.height / 2);
          ctx.beginPath(); ctx.moveTo(q[0], q[1]); ctx.lineTo(ex, ey); ctx.stroke();
        }
        ctx.fillText(s.labels[k], place.x, place.y);
      });
      ctx.textBaseline = "alphabetic";
      var c = toPx(z);
      ctx.strokeStyle = s.colors.point; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.moveTo(c[0] - 7, c[1] - 7); ctx.lineTo(c[0] + 7, c[1] + 7);
      ctx.moveTo(c[0] + 7, c[1] - 7); ctx.lineTo(c[0] - 7, c[1] + 7); ctx.stroke();
    }
    function nearest(z) {
      var best = -1, distance = Infinity;
      s.marked.forEach(function (m, k) {
        var d = Math.hypot(m[0] - z[0], m[1] - z[1]);
        if (d < distance) { distance = d; best = k; }
      });
      return best < 0 ? "" : "; the nearest marked code is " + (s.labels[best] ? "\u201c" + s.labels[best] + "\u201d" : "point " + (best + 1)) +
        ", " + distance.toFixed(2) + " away";
    }
    function redraw() {
      var z = [value(sliders[0]), value(sliders[1])];
      var pixels = forward(s.network, z);
      sliders.forEach(function (slider, k) { slider.nextElementSibling.textContent = fmt(z[k]); });
      drawPlane(z);
      drawGlyph(glyph.getContext("2d"), pixels, s.shape, 0, 0, cell);
      var ink = pixels.filter(function (v) { return v > 0.5; }).length;
      var text = "Decoded at (" + fmt(z[0]) + ", " + fmt(z[1]) + "): " + ink + " of " + pixels.length +
        " pixels inked (above 0.5)" + nearest(z) + ".";
      readout.textContent = text;
      glyph.setAttribute("aria-label", "The picture the decoder draws at (" + fmt(z[0]) + ", " + fmt(z[1]) + "), " +
        s.shape[0] + " by " + s.shape[1] + " pixels, " + ink + " inked");
      plane.setAttribute("aria-label", "The latent plane with the marked codes and a cross at (" + fmt(z[0]) + ", " + fmt(z[1]) + ")" +
        (dropped.length ? "; not named on the plane for lack of room: " + dropped.join(", ") : ""));
      root.dataset.state = JSON.stringify({z: z, pixels: pixels, cell: cell});
    }
    sliders.forEach(function (slider) { slider.addEventListener("input", redraw); });
    plane.addEventListener("click", function (event) {
      var box = plane.getBoundingClientRect(), scale = plane.width / box.width;
      var x = (event.clientX - box.left) * scale, y = (event.clientY - box.top) * scale;
      var z = [lo[0] + (x - pad) / (size - pad - 8) * (hi[0] - lo[0]), lo[1] + (size - pad - y) / (size - pad - 8) * (hi[1] - lo[1])];
      sliders.forEach(function (slider, k) { slider.value = Math.min(hi[k], Math.max(lo[k], Math.round(z[k] / s.step) * s.step)); });
      redraw();
    });
    redraw();
  }

  // A small seeded generator (mulberry32) for the noise: the page draws its own noise, from the
  // same distributions as aelib.noise but not the same numbers as numpy.
  function mulberry32(seed) {
    return function () {
      seed = (seed + 0x6D2B79F5) | 0;
      var t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function playground(root) {
    if (!root || root.dataset.ready) return;
    root.dataset.ready = "1";
    var s = spec(root), kind = root.querySelector("select"), level = root.querySelector("input[type=range]");
    var button = root.querySelector("button"), canvas = root.querySelector(".aelib-rows");
    var readout = root.querySelector(".aelib-readout"), levelLabel = root.querySelector(".aelib-level-label");
    var n = s.clean.length, m = s.shape[0] * s.shape[1], draws = 0, uniforms, normals;
    var cell = Math.max(4, Math.min(9, Math.floor(560 / (n * (s.shape[1] + 2))))), gap = 2 * cell, left = 78, top = 22;
    canvas.width = left + n * (s.shape[1] * cell + gap);
    canvas.height = top + 3 * (s.shape[0] * cell + gap) + 14;
    function newNoise() {
      // The same random numbers serve every level and kind, so moving the slider changes only the level.
      var random = mulberry32((s.seed * 1000003 + draws * 7919 + 1) >>> 0);
      uniforms = []; normals = [];
      for (var k = 0; k < n * m; k++) {
        var u1 = random(), u2 = random();
        uniforms.push([random(), random()]);
        normals.push(Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2));
      }
    }
    function corrupt(x, g, p, name) {
      return x.map(function (v, i) {
        var k = g * m + i;
        if (name === "Gaussian") return v + p * normals[k];
        return uniforms[k][0] < p ? (uniforms[k][1] < 0.5 ? 1 : 0) : v;
      });
    }
    function redraw() {
      var name = kind.value, p = Math.round(parseFloat(level.value) / 0.05) * 0.05;
      var symbol = name === "Gaussian" ? "\u03c3" : "p";
      levelLabel.textContent = name === "Gaussian" ? "\u03c3 (noise level)" : "p (noise level)";
      level.nextElementSibling.textContent = p.toFixed(2);
      var noisy = s.clean.map(function (x, g) { return corrupt(x, g, p, name); });
      var denoised = noisy.map(function (x) { return forward(s.networks[name], x); });
      var missed = [];
      denoised.forEach(function (x, g) {
        var same = x.every(function (v, i) { return (v > 0.5) === (s.clean[g][i] > 0.5); });
        if (!same) missed.push(g);
      });
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "#000"; ctx.font = "13px sans-serif"; ctx.textAlign = "right"; ctx.textBaseline = "middle";
      var rowHeight = s.shape[0] * cell + gap;
      ["clean", "noisy", "denoised"].forEach(function (rowName, r) {
        ctx.fillStyle = "#000";
        ctx.fillText(rowName, left - 8, top + r * rowHeight + s.shape[0] * cell / 2);
        [s.clean, noisy, denoised][r].forEach(function (x, g) {
          var x0 = left + g * (s.shape[1] * cell + gap), y0 = top + r * rowHeight;
          drawGlyph(ctx, x, s.shape, x0, y0, cell);
          ctx.strokeStyle = "#767676"; ctx.lineWidth = 1;
          ctx.strokeRect(x0 - 0.5, y0 - 0.5, s.shape[1] * cell + 1, s.shape[0] * cell + 1);
          ctx.fillStyle = "#000";
          if (r === 0 && s.labels[g]) { ctx.textAlign = "center"; ctx.fillText(s.labels[g], x0 + s.shape[1] * cell / 2, 10); ctx.textAlign = "right"; }
          if (r === 2 && missed.indexOf(g) >= 0) {
            // A glyph not recovered exactly is marked by a cross under it, not by colour alone.
            ctx.fillStyle = s.colors.point; ctx.textAlign = "center";
            ctx.fillText("\u2717", x0 + s.shape[1] * cell / 2, y0 + s.shape[0] * cell + cell + 2);
            ctx.fillStyle = "#000"; ctx.textAlign = "right";
          }
        });
      });
      var text = name + ", " + symbol + " = " + p.toFixed(2) + ": " + (n - missed.length) + " of " + n + " recovered exactly";
      if (missed.length) text += "; not recovered (marked \u2717): " + missed.map(function (g) { return s.labels[g] || String(g + 1); }).join(", ");
      readout.textContent = text + ".";
      canvas.setAttribute("aria-label", "Three rows of glyphs: clean, with " + name + " noise at " + symbol + " = " + p.toFixed(2) +
        ", and denoised; " + (n - missed.length) + " of " + n + " denoised glyphs equal the clean ones");
      root.dataset.state = JSON.stringify({kind: name, level: p, noisy: noisy, denoised: denoised,
        recovered: n - missed.length, cell: cell, gap: gap, left: left, top: top});
    }
    kind.addEventListener("input", redraw);
    kind.addEventListener("change", redraw);
    level.addEventListener("input", redraw);
    button.addEventListener("click", function () { draws += 1; newNoise(); redraw(); });
    newNoise();
    redraw();
  }
  var api = {latent: latent, playground: playground, forward: forward, layoutLabels: layoutLabels,
             droppedNames: droppedNames, LABEL_HEIGHT: LABEL_HEIGHT};
  if (typeof window !== "undefined") window.aelibExplorers = api;
  return api;
})();
if (typeof module !== "undefined" && module.exports) module.exports = aelibExplorers;
