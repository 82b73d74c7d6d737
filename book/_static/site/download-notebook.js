// The download menu's source links (the chapter's .ipynb, a page's .md) save the file instead of opening it.
// A static host serves .ipynb as JSON, which the browser shows as text (sphinx-book-theme issue #918); the
// `download` attribute asks the browser to save it under its own name. Workaround discussed in
// sphinx-book-theme issues #863 and #918; tests/test_browser.py checks that a click saves the notebook.
(function () {
  function markForDownload() {
    var links = document.querySelectorAll("a.btn-download-source-button, a.btn-download-notebook-button");
    links.forEach(function (link) {
      var name = new URL(link.getAttribute("href"), document.baseURI).pathname.split("/").pop();
      link.setAttribute("download", decodeURIComponent(name));
      link.removeAttribute("target");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", markForDownload);
  } else {
    markForDownload();
  }
})();
