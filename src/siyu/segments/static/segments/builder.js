// The segment builder: groups of conditions with 并且/或者 and 排除 (NOT), composed into the JSON rule the form
// submits in a hidden field, with a debounced live count. Nobody types JSON.
(function () {
  "use strict";

  var TYPES = [["tags", "标签"], ["event", "行为"], ["orders", "订单"], ["bought", "购买商品"], ["stage", "客户阶段"],
    ["trait", "属性"], ["staff", "跟进员工"], ["store", "门店"], ["customer_group", "客户群"], ["source", "来源"],
    ["segment", "其他人群"], ["consent", "授权同意"]];
  var TRAITS = [["total_spend", "累计消费", "number"], ["orders_count", "订单数", "number"],
    ["average_order_value", "客单价", "number"], ["r_score", "R 分", "number"], ["f_score", "F 分", "number"],
    ["m_score", "M 分", "number"], ["last_order_at", "最近下单", "date"], ["first_order_at", "首单时间", "date"],
    ["last_seen_at", "最近出现", "date"], ["first_seen_at", "首次出现", "date"]];
  var OPERATORS = {
    number: [["gt", "大于"], ["lt", "小于"], ["eq", "等于"], ["ne", "不等于"], ["between", "介于"], ["in", "属于"],
      ["exists", "有值"], ["not_exists", "没有值"]],
    date: [["within_days", "最近 N 天内"], ["before_days", "N 天以前"], ["gt", "晚于"], ["lt", "早于"],
      ["between", "介于"], ["exists", "有值"], ["not_exists", "没有值"]],
    custom: [["eq", "等于"], ["ne", "不等于"], ["contains", "包含"], ["gt", "大于"], ["lt", "小于"],
      ["between", "介于"], ["in", "属于"], ["exists", "有值"], ["not_exists", "没有值"]],
  };
  var SOURCES = [["web", "网站"], ["app", "App"], ["miniprogram", "小程序"], ["pos", "门店收银"], ["server", "服务端"],
    ["wecom", "企业微信"]];
  var vocab, root, rulesField, timer, counter = 0;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function select(key, label, options, value, multiple) {
    var s = el("select", {"data-key": key, "aria-label": label});
    if (multiple) { s.multiple = true; s.setAttribute("data-placeholder", label); }
    var groups = {};
    options.forEach(function (o) {
      var opt = el("option", {value: String(o[0]), text: o[1]});
      if (multiple ? (value || []).map(String).indexOf(String(o[0])) >= 0 : String(value) === String(o[0])) opt.selected = true;
      if (o[2]) {
        if (!groups[o[2]]) { groups[o[2]] = el("optgroup", {label: o[2]}); s.appendChild(groups[o[2]]); }
        groups[o[2]].appendChild(opt);
      } else s.appendChild(opt);
    });
    return s;
  }

  function input(key, label, value, type) {
    var i = el("input", {"data-key": key, "aria-label": label, type: type || "text"});
    if (value !== undefined && value !== null) i.value = value;
    return i;
  }

  function ids(list) { return list.map(function (x) { return [x.id, x.name, x.group]; }); }
  function did(value, withNone) {
    var options = [["at_least", "至少"], ["at_most", "至多"]];
    if (withNone) options.push(["none", "没有做过"]);
    return select("did", "次数条件", options, value || "at_least");
  }

  // -- one condition's fields, by type --------------------------------------------------------------------
  function fields(rule) {
    var f = [];
    switch (rule.type) {
      case "tags":
        f.push(select("match", "标签匹配", [["any", "有任一标签"], ["all", "有全部标签"], ["none", "都没有"]], rule.match || "any"));
        f.push(select("tags", "选择标签", ids(vocab.tags), rule.tags, true));
        break;
      case "event":
        f.push(el("span", {text: "最近"}), input("days", "天数", rule.days || 7, "number"), el("span", {text: "天"}));
        f.push(select("event", "事件", vocab.events.map(function (n) { return [n, n]; }).concat(
          rule.event && vocab.events.indexOf(rule.event) < 0 ? [[rule.event, rule.event]] : []), rule.event));
        f.push(did(rule.did, true));
        if (rule.did !== "none") f.push(input("count", "次数", rule.count === undefined ? 1 : rule.count, "number"), el("span", {text: "次"}));
        break;
      case "orders":
        f.push(el("span", {text: "最近"}), input("days", "天数", rule.days === undefined ? 30 : rule.days, "number"),
          el("span", {text: "天（留空为全部）"}));
        f.push(select("measure", "订单指标", [["count", "订单数"], ["spend", "消费金额"]], rule.measure || "count"));
        f.push(did(rule.did, false), input("value", "数值", rule.value === undefined ? 1 : rule.value, "number"));
        break;
      case "bought":
        f.push(select("products", "选择商品", ids(vocab.products), rule.products, true));
        f.push(el("span", {text: "最近"}), input("days", "天数", rule.days, "number"), el("span", {text: "天（留空为全部）"}));
        break;
      case "stage": f.push(select("ids", "选择阶段", ids(vocab.stages), rule.ids, true)); break;
      case "staff": f.push(select("ids", "选择员工", ids(vocab.staff), rule.ids, true)); break;
      case "store": f.push(select("ids", "选择门店", ids(vocab.stores), rule.ids, true)); break;
      case "customer_group": f.push(select("ids", "选择客户群", ids(vocab.groups), rule.ids, true)); break;
      case "source": f.push(select("sources", "选择来源", SOURCES, rule.sources, true)); break;
      case "segment": f.push(select("segment", "选择人群", ids(vocab.segments), rule.segment)); break;
      case "consent":
        f.push(select("purpose", "授权用途", [["marketing", "营销消息"], ["profiling", "用户画像"], ["location", "位置信息"]], rule.purpose || "marketing"));
        f.push(select("state", "授权状态", [["granted", "已同意"], ["withdrawn", "已撤回"], ["unknown", "未授权"]], rule.state || "granted"));
        break;
      case "trait": {
        var fieldsList = TRAITS.map(function (t) { return [t[0], t[1]]; }).concat(
          vocab.traits.map(function (k) { return ["traits." + k, "自定义：" + k]; }));
        var field = rule.field || "total_spend";
        var kind = (TRAITS.filter(function (t) { return t[0] === field; })[0] || [0, 0, "custom"])[2];
        f.push(select("field", "属性", fieldsList, field));
        f.push(select("operator", "比较", OPERATORS[kind], rule.operator || OPERATORS[kind][0][0]));
        var op = rule.operator || OPERATORS[kind][0][0];
        var type = kind === "date" && op !== "within_days" && op !== "before_days" ? "date" : (kind === "custom" ? "text" : "number");
        if (op === "between") {
          var v = rule.value || [];
          f.push(input("value.0", "起", v[0], type), el("span", {text: "至"}), input("value.1", "止", v[1], type));
        } else if (op === "in") {
          f.push(input("value.list", "多个值用逗号分隔", (rule.value || []).join(","), "text"));
        } else if (op !== "exists" && op !== "not_exists") {
          f.push(input("value", "值", rule.value, type));
        }
        break;
      }
    }
    return el("div", {"class": "seg-fields"}, f);
  }

  // -- items: a condition or a group, optionally negated -----------------------------------------------
  function item(rule) {
    var negated = rule.op === "not";
    var inner = negated ? rule.rule : rule;
    var id = "seg-not-" + (++counter);
    var not = el("input", {type: "checkbox", id: id, "data-role": "not"});
    not.checked = negated;
    var remove = el("button", {type: "button", "class": "btn small", "data-role": "remove", text: "删除"});
    var head = el("div", {"class": "seg-item-head"}, [el("label", {"for": id}, [not, document.createTextNode(" 排除")]), remove]);
    var body;
    if (inner.op === "and" || inner.op === "or") body = group(inner);
    else {
      var type = select("type", "条件类型", TYPES, inner.type || "tags");
      head.insertBefore(type, head.firstChild);
      body = fields(inner);
    }
    var wrap = el("div", {"class": "seg-item" + (negated ? " negated" : "")}, [head, body]);
    not.addEventListener("change", function () { wrap.classList.toggle("negated", not.checked); changed(); });
    remove.addEventListener("click", function () { wrap.remove(); changed(); });
    return wrap;
  }

  function group(rule) {
    var op = select("op", "组合方式", [["and", "满足全部条件（并且）"], ["or", "满足任一条件（或者）"]], rule.op || "and");
    op.setAttribute("data-role", "op");
    var list = el("div", {"class": "seg-list"});
    (rule.rules || []).forEach(function (child) { list.appendChild(item(child)); });
    var addCondition = el("button", {type: "button", "class": "btn small", text: "添加条件"});
    var addGroup = el("button", {type: "button", "class": "btn small", text: "添加条件组"});
    addCondition.addEventListener("click", function () { list.appendChild(item({type: "tags", match: "any"})); enhance(list); changed(); });
    addGroup.addEventListener("click", function () { list.appendChild(item({op: "or", rules: []})); enhance(list); changed(); });
    return el("div", {"class": "seg-group"}, [el("div", {"class": "seg-group-head"}, [op]), list,
      el("div", {"class": "seg-group-head"}, [addCondition, addGroup])]);
  }

  // -- reading the DOM back into a rule, noting each input's path for errors -----------------------------
  function readGroup(g, path) {
    var op = g.querySelector(":scope > .seg-group-head > select[data-role=op]");
    op.dataset.path = path + "op";
    var items = g.querySelectorAll(":scope > .seg-list > .seg-item");
    return {op: op.value, rules: Array.prototype.map.call(items, function (it, i) { return readItem(it, path + "rules." + i + "."); })};
  }

  function number(text) { var t = String(text).trim(); return t === "" ? null : (isNaN(Number(t)) ? t : Number(t)); }
  function scalar(text) { var t = String(text).trim(); return t !== "" && !isNaN(Number(t)) ? Number(t) : t; }

  function readItem(it, path) {
    var not = it.querySelector(":scope > .seg-item-head input[data-role=not]");
    var inner = not.checked ? path + "rule." : path;
    var rule;
    var sub = it.querySelector(":scope > .seg-group");
    if (sub) rule = readGroup(sub, inner);
    else {
      var type = it.querySelector(":scope > .seg-item-head select[data-key=type]");
      type.dataset.path = inner + "type";
      rule = {type: type.value};
      it.querySelectorAll(":scope > .seg-fields [data-key]").forEach(function (field) {
        if (field.classList.contains("ts-control") || field.tagName === "DIV") return;
        var key = field.dataset.key;
        field.dataset.path = inner + key.split(".")[0];
        if (field.multiple) rule[key] = Array.prototype.map.call(field.selectedOptions, function (o) { return isNaN(Number(o.value)) ? o.value : Number(o.value); });
        else if (key === "value.0" || key === "value.1") {
          rule.value = rule.value || [];
          rule.value[Number(key.slice(-1))] = field.type === "text" ? scalar(field.value) : (field.type === "date" ? field.value : number(field.value));
        } else if (key === "value.list") rule.value = field.value.split(/[,，]/).map(function (v) { return v.trim(); }).filter(Boolean).map(scalar);
        else if (key === "days" || key === "count") rule[key] = number(field.value);
        else if (key === "value") rule[key] = field.type === "text" ? scalar(field.value) : (field.type === "date" ? field.value : number(field.value));
        else if (key === "segment") rule[key] = number(field.value);
        else rule[key] = field.value;
      });
      if (rule.type === "event") rule.properties = [];
    }
    return not.checked ? {op: "not", rule: rule} : rule;
  }

  // -- live count ----------------------------------------------------------------------------------------
  function showErrors(errors) {
    var list = document.getElementById("segment-rule-errors");
    list.innerHTML = "";
    root.querySelectorAll(".seg-field-error").forEach(function (n) { n.classList.remove("seg-field-error"); });
    var keys = Object.keys(errors || {});
    keys.forEach(function (path) {
      var target = root.querySelector('[data-path="' + path.replace(/^rule\./, "") + '"]');
      if (target) (target.tomselect ? target.tomselect.wrapper : target).classList.add("seg-field-error");
      errors[path].forEach(function (m) { list.appendChild(el("li", {text: m})); });
    });
    list.hidden = keys.length === 0;
  }

  function changed() {
    var rule = readGroup(root.querySelector(":scope > .seg-group"), "");
    rulesField.value = JSON.stringify(rule);
    clearTimeout(timer);
    timer = setTimeout(function () { count(rule); }, 400);
  }

  function count(rule) {
    var form = root.closest("form");
    var note = document.getElementById("segment-count-note");
    note.textContent = "计算中…";
    fetch(form.dataset.countUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value},
      body: JSON.stringify({rule: rule}),
    }).then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); }).then(function (res) {
      var box = document.querySelector("[data-testid=live-count]");
      var examples = document.querySelector("[data-testid=examples]");
      examples.innerHTML = "";
      if (!res.ok) { box.textContent = "—"; note.textContent = "暂时无法计算人数"; return; }
      if (res.data.errors) { box.textContent = "—"; note.textContent = "条件还不完整"; showErrors(res.data.errors); return; }
      showErrors({});
      box.textContent = res.data.count + " 人";
      note.textContent = "按当前条件实时计算";
      res.data.examples.forEach(function (p) { examples.appendChild(el("li", {text: p.name + " · 订单 " + p.orders + " · ¥" + p.spend})); });
    }).catch(function () { note.textContent = "暂时无法计算人数"; });
  }

  function enhance(scope) {
    if (!window.TomSelect) return;
    scope.querySelectorAll("select[multiple]:not(.tomselected)").forEach(function (s) {
      new TomSelect(s, {plugins: ["remove_button"], maxOptions: null, hidePlaceholder: true, closeAfterSelect: true,
        placeholder: s.dataset.placeholder || "搜索或选择",
        render: {no_results: function () { return '<div class="no-results">没有匹配的选项</div>'; },
          item: function (data, escape) { return '<div class="chip">' + escape(data.text) + "</div>"; }}});
    });
  }

  function start() {
    root = document.getElementById("segment-builder");
    if (!root) return;
    vocab = JSON.parse(document.getElementById("segment-vocabulary").textContent);
    var initial = JSON.parse(document.getElementById("segment-initial-rule").textContent);
    rulesField = root.closest("form").querySelector("input[name=rule]");
    var rule = initial ? JSON.parse(initial) : {op: "and", rules: [{type: "tags", match: "any"}]};
    if (rule.op !== "and" && rule.op !== "or") rule = {op: "and", rules: [rule]};
    root.appendChild(group(rule));
    enhance(root);
    // A changed type or operator redraws that condition's fields; any other edit only recounts.
    root.addEventListener("change", function (event) {
      var key = event.target.dataset.key;
      if (key === "type" || key === "operator" || key === "field" || key === "did") {
        var it = event.target.closest(".seg-item");
        var path = "";
        var current = readItem(it, path);
        var inner = current.op === "not" ? current.rule : current;
        if (key === "type") inner = {type: inner.type};
        if (key === "field") inner = {type: "trait", field: inner.field};
        var fresh = item(current.op === "not" ? {op: "not", rule: inner} : inner);
        it.replaceWith(fresh);
        enhance(fresh);
      }
      changed();
    });
    root.addEventListener("input", function (event) { if (event.target.tagName === "INPUT") changed(); });
    var errors = JSON.parse(document.getElementById("segment-rule-errors-data").textContent);
    changed();
    if (errors && Object.keys(errors).length) showErrors(errors);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
