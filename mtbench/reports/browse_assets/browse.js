(function () {
  "use strict";
  // Every string from the data files is untrusted: the page is built from text nodes only.
  const DATA = JSON.parse(document.getElementById("mtbench-data").textContent);
  const SINGLE = DATA.single && DATA.single.report ? DATA.single.report : null;
  const PAIR = DATA.pairwise && DATA.pairwise.report ? DATA.pairwise.report : null;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f5fb3", "#d1495b", "#2a9d5c", "#e39b1b", "#7b4fb8", "#1a9fb0",
    "#b5651d", "#c2418f", "#5b7a1e", "#4d5b75", "#e0664a", "#3d8bd9"];

  const ranking = rankModels();
  const state = {
    category: "all",
    selected: new Set(ranking.length <= 4 ? ranking : ranking.slice(0, 4)),
    onlySelected: false,
    question: null,
  };

  function rankModels() {
    const order = [];
    for (const report of [SINGLE, PAIR]) {
      if (!report) continue;
      for (const row of report.models) if (!order.includes(row.model)) order.push(row.model);
    }
    for (const m of DATA.models) if (!order.includes(m)) order.push(m);
    return order;
  }

  function color(model) {
    const i = DATA.models.indexOf(model);
    return i < PALETTE.length ? PALETTE[i] : "hsl(" + ((i * 137.508) % 360).toFixed(0) + ",55%,45%)";
  }

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of [].concat(children || [])) {
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  function numberCell(value, digits) {
    const raw = value === null || value === undefined ? "" : String(value);
    return el("td", { text: fmt(value, digits), title: raw, "data-value": raw });
  }

  // Answers are Markdown-ish: keep whitespace, and set ``` fenced blocks apart as code.
  function renderText(text, missing) {
    if (text === null || text === undefined) return el("div", { class: "missing", text: missing });
    const box = el("div", { class: "md" });
    const parts = String(text).split(/^[ \t]*```[^\n]*$/m);
    parts.forEach(function (part, i) {
      const body = part.replace(/^\n+|\n+$/g, "");
      if (i % 2 === 1) box.appendChild(el("pre", { class: "code" }, el("code", { text: body })));
      else if (body.trim()) box.appendChild(el("div", { class: "prose", text: body }));
    });
    return box;
  }

  // Question ids are JSON integers or strings (never both in one file), so their text is unique.
  function question(id) {
    if (id === null || id === undefined) return null;
    return DATA.questions.find(function (q) { return String(q.id) === String(id); }) || null;
  }

  function questionHash(q) {
    return "q=" + encodeURIComponent(String(q.id));
  }

  function visibleQuestions() {
    return DATA.questions.filter(function (q) {
      return state.category === "all" || q.category === state.category;
    });
  }

  function selectedInOrder() {
    return ranking.filter(function (m) { return state.selected.has(m); });
  }

  // ---- header and controls ----

  function renderMeta() {
    const m = DATA.meta;
    const parts = ["bench " + m.bench, "judge " + m.judge, DATA.models.length + " models",
      DATA.questions.length + " questions", "generated " + m.generated];
    document.getElementById("meta").textContent = parts.join(" · ");
    const notes = document.getElementById("notes");
    for (const note of m.notes) notes.appendChild(el("li", { text: note }));
  }

  function renderCategoryFilter() {
    const select = document.getElementById("category-filter");
    select.appendChild(el("option", { value: "all", text: "All categories" }));
    for (const c of DATA.categories) {
      const n = DATA.questions.filter(function (q) { return q.category === c; }).length;
      select.appendChild(el("option", { value: c, text: c + " (" + n + ")" }));
    }
    select.addEventListener("change", function () {
      state.category = select.value;
      const current = question(state.question);
      if (!current || (state.category !== "all" && current.category !== state.category)) {
        const first = visibleQuestions()[0];
        state.question = first ? first.id : null;
      }
      renderAll();
    });
  }

  function renderModelFilter() {
    const box = document.getElementById("model-checkboxes");
    box.textContent = "";
    for (const model of ranking) {
      const on = state.selected.has(model);
      const input = el("input", { type: "checkbox", checked: on, value: model, "data-model": model,
        on: { change: function () {
          if (input.checked) state.selected.add(model); else state.selected.delete(model);
          renderAll();
        } } });
      box.appendChild(el("label", { class: "model-chip" + (on ? " on" : ""), "data-model": model },
        [input, el("span", { class: "swatch", style: "background:" + color(model) }), model]));
    }
  }

  function setSelection(models) {
    state.selected = new Set(models);
    renderAll();
  }

  // ---- leaderboard ----

  function intervalBar(lower, value, upper, lo, hi) {
    const width = 120, pad = 4;
    const x = function (v) { return pad + ((v - lo) / (hi - lo || 1)) * (width - 2 * pad); };
    const bar = svg("svg", { width: width, height: 14, class: "ci-bar", role: "img" });
    bar.appendChild(svg("line", { class: "axis", x1: pad, x2: width - pad, y1: 7, y2: 7 }));
    if (lower !== null && upper !== null) {
      bar.appendChild(svg("line", { class: "range", x1: x(lower), x2: x(upper), y1: 7, y2: 7 }));
    }
    bar.appendChild(svg("circle", { cx: x(value), cy: 7, r: 2.5 }));
    return el("td", { class: "bar" }, bar);
  }

  function boardRange(report, key) {
    const values = [];
    for (const r of report.models) {
      values.push(r[key]);
      if (r.lower !== undefined && r.lower !== null) values.push(r.lower, r.upper);
    }
    const step = key === "score" ? 1 : 0.1;
    return [Math.floor(Math.min.apply(null, values) / step) * step,
      Math.ceil(Math.max.apply(null, values) / step) * step];
  }

  function board(report, spec) {
    const wrap = el("div", { class: "board", id: spec.id });
    wrap.appendChild(el("h3", { text: spec.title }));
    const boot = report.bootstrap;
    wrap.appendChild(el("p", { class: "caption", text: spec.caption + (boot ?
      " Interval: " + Math.round(boot.confidence * 100) + "% bootstrap over questions, " +
      boot.resamples + " resamples, seed " + boot.seed + "." : "") }));
    const cat = state.category === "all" ? null : state.category;
    const head = ["#", "Model", spec.label].concat(boot ? ["95% interval", ""] : [])
      .concat(spec.extra.map(function (c) { return c[0]; })).concat(cat ? [cat] : []);
    const table = el("table", { class: "leaderboard" });
    table.appendChild(el("thead", {}, el("tr", {}, head.map(function (h, i) {
      return el("th", { class: i === 1 ? "name" : "", text: h });
    }))));
    const body = el("tbody");
    const range = boardRange(report, spec.key);
    report.models.forEach(function (row, i) {
      const chosen = state.selected.has(row.model);
      const tr = el("tr", { class: (chosen ? "selected" : "") + (state.onlySelected && !chosen ?
        " hidden" : ""), "data-model": row.model });
      tr.appendChild(el("td", { text: String(i + 1) }));
      tr.appendChild(el("td", { class: "name" }, [el("span", { class: "swatch",
        style: "background:" + color(row.model) }), " " + row.model]));
      tr.appendChild(numberCell(row[spec.key], spec.digits));
      if (boot) {
        tr.appendChild(el("td", { class: "ci", text: fmt(row.lower, spec.digits) + " – " +
          fmt(row.upper, spec.digits) }));
        tr.appendChild(intervalBar(row.lower, row[spec.key], row.upper, range[0], range[1]));
      }
      for (const [, key, digits] of spec.extra) tr.appendChild(numberCell(row[key], digits));
      if (cat) tr.appendChild(numberCell(row.categories ? row.categories[cat] : null, spec.digits));
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    wrap.appendChild(el("p", { class: "caption", text: report.accounting_line }));
    return wrap;
  }

  function renderBoards() {
    const single = document.getElementById("single-board");
    const pair = document.getElementById("pair-board");
    single.textContent = "";
    pair.textContent = "";
    if (SINGLE) {
      single.appendChild(board(SINGLE, { id: "single-table", key: "score", digits: 2,
        title: "Single-answer grading (judge " + DATA.meta.judge + ")", label: "Score",
        caption: "Mean score 1–10 over both turns (FastChat's Average).",
        extra: [["Turn 1", "turn_1", 2], ["Turn 2", "turn_2", 2], ["Judgments", "judgments", 0]] }));
    } else {
      single.appendChild(el("p", { class: "missing", text: "No single-grading leaderboard." }));
    }
    if (PAIR) {
      const vs = PAIR.baseline ? "against " + PAIR.baseline : "all pairs";
      pair.appendChild(board(PAIR, { id: "pair-table", key: "win_rate_adjusted", digits: 3,
        title: "Pairwise comparison, " + vs + " (judge " + DATA.meta.judge + ")",
        label: "Adj. win rate",
        caption: "(win + 0.5 × tie) / games; a win needs both answer orders to agree.",
        extra: [["Win", "win", 0], ["Loss", "loss", 0], ["Tie", "tie", 0]] }));
    }
  }

  // ---- categories ----

  function categoryTable(report, title, digits) {
    const models = selectedInOrder().filter(function (m) {
      return report.models.some(function (r) { return r.model === m && r.categories; });
    });
    const wrap = el("div", { class: "category-block" }, el("h3", { text: title }));
    if (!models.length) {
      wrap.appendChild(el("p", { class: "missing", text: "No selected model has results here." }));
      return wrap;
    }
    const byModel = {};
    for (const r of report.models) byModel[r.model] = r.categories || {};
    const table = el("table", { class: "categories" });
    table.appendChild(el("thead", {}, el("tr", {}, [el("th", { class: "name", text: "Category" })]
      .concat(models.map(function (m) { return el("th", { text: m, "data-model": m }); })))));
    const body = el("tbody");
    for (const c of DATA.categories) {
      const tr = el("tr", { class: c === state.category ? "current" : "", "data-category": c },
        el("td", { class: "name", text: c }));
      for (const m of models) tr.appendChild(numberCell(byModel[m][c], digits));
      body.appendChild(tr);
    }
    table.appendChild(body);
    wrap.appendChild(table);
    return wrap;
  }

  function renderCategories() {
    const box = document.getElementById("category-tables");
    box.textContent = "";
    if (SINGLE) box.appendChild(categoryTable(SINGLE, "Mean score by category", 2));
    if (PAIR) box.appendChild(categoryTable(PAIR, "Adjusted win rate by category", 3));
    if (!SINGLE && !PAIR) box.appendChild(el("p", { class: "missing", text: "No judgments." }));
    renderRadar(SINGLE || PAIR, SINGLE ? 10 : 1);
  }

  function renderRadar(report, max) {
    const fig = document.getElementById("radar");
    fig.textContent = "";
    if (!report) return;
    const models = selectedInOrder().filter(function (m) {
      return report.models.some(function (r) { return r.model === m && r.categories; });
    });
    const cats = DATA.categories, size = 400, c = size / 2, radius = 140;
    const point = function (i, v) {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / cats.length;
      const r = (Math.max(0, Math.min(v, max)) / max) * radius;
      return [c + r * Math.cos(a), c + r * Math.sin(a)];
    };
    const chart = svg("svg", { width: size, height: size, viewBox: "0 0 " + size + " " + size,
      role: "img", "aria-label": "radar chart by category" });
    for (let level = 1; level <= 5; level++) {
      const ring = cats.map(function (_, i) { return point(i, (max * level) / 5).join(","); });
      chart.appendChild(svg("polygon", { points: ring.join(" "), fill: "none", stroke: "#d9dee7" }));
    }
    cats.forEach(function (cat, i) {
      const [x, y] = point(i, max);
      chart.appendChild(svg("line", { x1: c, y1: c, x2: x, y2: y, stroke: "#d9dee7" }));
      const [lx, ly] = point(i, max * 1.17);
      chart.appendChild(svg("text", { x: lx, y: ly + 4, "text-anchor": "middle", "font-size": 12,
        fill: "#1d2330", class: cat === state.category ? "current" : "" }, cat));
    });
    const byModel = {};
    for (const r of report.models) byModel[r.model] = r.categories || {};
    for (const m of models) {
      const pts = cats.map(function (cat, i) { return point(i, byModel[m][cat] || 0).join(","); });
      chart.appendChild(svg("polygon", { points: pts.join(" "), fill: color(m), "fill-opacity": 0.08,
        stroke: color(m), "stroke-width": 2, "data-model": m }));
    }
    fig.appendChild(chart);
    const legend = el("div", { class: "legend" });
    for (const m of models) {
      legend.appendChild(el("span", {}, [el("span", { class: "swatch",
        style: "background:" + color(m) }), " " + m]));
    }
    fig.appendChild(legend);
    fig.appendChild(el("figcaption", { text: (report === SINGLE ? "Mean score" :
      "Adjusted win rate") + " by category (0–" + max + "), selected models" }));
  }

  // ---- questions ----

  function renderQuestionList() {
    const list = document.getElementById("question-list");
    list.textContent = "";
    for (const q of visibleQuestions()) {
      const label = q.id + " · " + q.category + " · " + q.turns[0].slice(0, 128);
      list.appendChild(el("li", {}, el("a", { href: "#" + questionHash(q), text: label, title: q.turns[0],
        class: q.id === state.question ? "current" : "", "data-qid": String(q.id) })));
    }
  }

  function winnerName(winner, models) {
    if (winner === "model_1") return models[0];
    if (winner === "model_2") return models[1];
    return winner === "tie" ? "tie" : "error (no verdict parsed)";
  }

  function pairView(row) {
    const [m1, m2] = row.models;
    const [g1, g2] = row.winners;
    let outcome, cls;
    if (g1 === "error" || g2 === "error") { outcome = "not counted (a game has no verdict)"; cls = "outcome-error"; }
    else if (g1 === "tie" || g1 !== g2) {
      outcome = g1 === g2 ? "tie" : "tie (the two orders disagree)"; cls = "outcome-tie";
    } else { outcome = winnerName(g1, row.models) + " wins"; cls = "outcome-win"; }
    const game = function (n, a, b, winner, text) {
      return el("div", { class: "game", "data-game": String(n) }, [
        el("div", { class: "label", text: "Game " + n + ": Assistant A = " + a + ", Assistant B = " + b }),
        el("div", {}, ["Verdict: ", el("span", { class: "verdict", text: winnerName(winner, row.models) })]),
        renderText(text, "No judgment text."),
      ]);
    };
    return el("div", { class: "pair", "data-models": m1 + " | " + m2 }, [
      el("header", {}, [el("b", { text: m1 + " vs " + m2 }), " — ",
        el("span", { class: cls, text: outcome }), " · " + row.judge.join(" / ")]),
      el("div", { class: "games" }, [
        game(1, m1, m2, g1, row.texts[0]), game(2, m2, m1, g2, row.texts[1])]),
    ]);
  }

  function answerCard(model, q, turn) {
    const answers = DATA.answers[model];
    const turns = answers ? answers[String(q.id)] : null;
    const judged = DATA.single && DATA.single.judgments[model];
    const j = judged && judged[String(q.id)] ? judged[String(q.id)][String(turn)] : null;
    const header = el("header", {}, [el("span", {}, [el("span", { class: "swatch",
      style: "background:" + color(model) }), " " + model])]);
    if (j) header.appendChild(el("span", { class: "score" + (j.score === -1 ? " unparsed" : ""),
      title: "single-answer score", text: j.score === -1 ? "no score" : String(j.score) }));
    const missing = !answers ? "No answer file for this model." : "No answer to this question.";
    const text = turns && turns[turn - 1] !== undefined ? turns[turn - 1] : null;
    const card = el("div", { class: "answer-card", "data-model": model }, [header,
      el("div", { class: "answer" }, renderText(text, missing))]);
    const judgment = el("div", { class: "judgment" });
    if (j) {
      judgment.appendChild(el("div", { class: "label", text: "Judge " + j.judge.join(" / ") +
        " · score " + (j.score === -1 ? "-1 (no rating parsed)" : j.score) }));
      judgment.appendChild(renderText(j.text, "No judgment text."));
    } else {
      judgment.appendChild(el("div", { class: "missing", text: "No single-grading judgment." }));
    }
    card.appendChild(judgment);
    return card;
  }

  function renderQuestion() {
    const view = document.getElementById("question-view");
    view.textContent = "";
    const q = question(state.question);
    if (!q) { view.appendChild(el("p", { class: "missing", text: "No question in this category." })); return; }
    const list = visibleQuestions();
    const at = list.findIndex(function (x) { return x.id === q.id; });
    const go = function (step) {
      return function () {
        const next = list[at + step];
        if (next) location.hash = questionHash(next);
      };
    };
    view.setAttribute("data-qid", String(q.id));
    view.appendChild(el("div", { class: "qhead" }, [el("h3", { text: "Question " + q.id }),
      el("span", { class: "badge", text: q.category }),
      el("button", { type: "button", text: "‹ Previous", disabled: at <= 0, on: { click: go(-1) } }),
      el("button", { type: "button", text: "Next ›", disabled: at < 0 || at >= list.length - 1,
        on: { click: go(1) } })]));
    const models = selectedInOrder();
    const reference = DATA.judge_reference ? DATA.judge_reference[String(q.id)] : null;
    const pairs = (DATA.pairwise && DATA.pairwise.judgments[String(q.id)]) || [];
    const baseline = PAIR ? PAIR.baseline : null;
    q.turns.forEach(function (userText, t) {
      const turn = t + 1;
      const section = el("section", { class: "turn", "data-turn": String(turn) },
        el("h3", { text: "Turn " + turn }));
      section.appendChild(el("div", { class: "user-msg" }, [el("div", { class: "role", text: "User" }),
        renderText(userText, "")]));
      if (q.reference && q.reference[t] !== undefined) {
        section.appendChild(el("div", { class: "reference human" }, [el("div", { class: "role",
          text: "Reference (human-written, question.jsonl)" }), renderText(q.reference[t], "")]));
      }
      if (reference && reference[t] !== undefined) {
        section.appendChild(el("details", { class: "reference judge-ref" }, [el("summary", {
          text: "Judge's reference answer (reference_answer/" + DATA.meta.judge + ".jsonl)" }),
          renderText(reference[t], "")]));
      }
      if (!models.length) {
        section.appendChild(el("p", { class: "missing", text: "Select models above to see their answers." }));
      } else {
        const grid = el("div", { class: "answers",
          style: "grid-template-columns: repeat(" + models.length + ", minmax(240px, 1fr))" });
        for (const m of models) grid.appendChild(answerCard(m, q, turn));
        section.appendChild(grid);
      }
      const shown = pairs.filter(function (r) {
        return r.turn === turn && r.models.every(function (m) {
          return state.selected.has(m) || m === baseline;
        });
      });
      if (shown.length) {
        section.appendChild(el("div", { class: "pairs" }, [el("div", { class: "role",
          text: "Pairwise judgments" })].concat(shown.map(pairView))));
      }
      view.appendChild(section);
    });
  }

  function readHash() {
    const match = /(?:^#|&)q=([^&]*)/.exec(location.hash);
    let id = null;
    if (match) {
      try { id = decodeURIComponent(match[1]); } catch (e) { id = null; }
    }
    const q = question(id);
    if (q) {
      state.question = q.id;
      if (state.category !== "all" && q.category !== state.category) {
        state.category = "all";
        document.getElementById("category-filter").value = "all";
      }
    } else if (state.question === null && DATA.questions.length) {
      state.question = DATA.questions[0].id;
    }
  }

  function renderAll() {
    renderModelFilter();
    renderBoards();
    renderCategories();
    renderQuestionList();
    renderQuestion();
  }

  renderMeta();
  renderCategoryFilter();
  document.getElementById("models-all").addEventListener("click", function () { setSelection(ranking); });
  document.getElementById("models-none").addEventListener("click", function () { setSelection([]); });
  document.getElementById("models-top").addEventListener("click", function () {
    setSelection(ranking.slice(0, 4));
  });
  document.getElementById("only-selected").addEventListener("change", function (e) {
    state.onlySelected = e.target.checked;
    renderBoards();
  });
  window.addEventListener("hashchange", function () {
    readHash();
    renderQuestionList();
    renderQuestion();
    document.getElementById("questions").scrollIntoView();
  });
  readHash();
  renderAll();
  document.body.setAttribute("data-ready", "1");
})();
