// MathJax 3 for pymdownx.arithmatex (generic mode): typeset only the arithmatex spans and
// divs (and the table of contents), and again after Material's instant navigation swaps a page in.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    // arithmatex's spans and divs; the nav links too, where a heading's formula (in the page's
    // table of contents) arrives as plain \(...\) text
    processHtmlClass: "arithmatex|md-nav__link"
  }
};

if (typeof document$ !== "undefined") {
  document$.subscribe(() => {
    if (window.MathJax && MathJax.typesetPromise) {
      MathJax.startup.output.clearCache();
      MathJax.typesetClear();
      MathJax.texReset();
      MathJax.typesetPromise();
    }
  });
}
