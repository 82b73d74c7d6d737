(function () {
  var D = $data, s = document.currentScript;
  var root = (s && s.closest(".rl-explorer")) || document.getElementById(D.id);
  var ins = root.querySelectorAll("input[data-param]"), outs = root.querySelectorAll("output[data-param-label]");
  var img = root.querySelector("img.rl-explorer-frame"), txt = root.querySelector(".rl-explorer-text");
  D.frames[D.grid[D.start]] = img.getAttribute("src");
  function show() {
    var idx = [], vals = [], alt = [];
    for (var i = 0; i < ins.length; i++) {
      var k = +ins[i].value, v = D.labels[i][k];
      idx.push(k); outs[i].textContent = v; ins[i].setAttribute("aria-valuetext", v);
      vals.push(D.names[i] + "=" + v); alt.push(D.captions[i] + " = " + v);
    }
    var key = idx.join(",");
    img.src = D.frames[D.grid[key]];
    img.alt = D.prefix + alt.join(", ") + D.descriptions[D.descriptionGrid[key]];
    img.setAttribute("data-values", vals.join(";"));
    if (txt) txt.innerHTML = D.texts[D.textGrid[key]];
  }
  for (var i = 0; i < ins.length; i++) ins[i].addEventListener("input", show);
  show();
})();
