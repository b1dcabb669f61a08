// Typeset every formula of the built site with MathJax 3 and fail on any TeX error.
//
//   mkdocs build --strict && (cd tools/docs && npm ci) && node tools/docs/check_math.mjs [site]
//
// pymdownx.arithmatex (generic mode) leaves each formula in the HTML as
// <span class="arithmatex">\(...\)</span> or <div class="arithmatex">\[...\]</div>; the site's
// MathJax typesets those in the browser.  Here the same TeX input, with the packages the
// browser bundle loads (less `noundefined`, which would draw an unknown macro in red instead of
// failing), typesets each one; an unknown macro, an unbalanced brace or a bad environment is
// reported with its page and fails the run.  Prints how many formulas each page has.
import fs from "node:fs";
import path from "node:path";
import { mathjax } from "mathjax-full/js/mathjax.js";
import { TeX } from "mathjax-full/js/input/tex.js";
import { SVG } from "mathjax-full/js/output/svg.js";
import { liteAdaptor } from "mathjax-full/js/adaptors/liteAdaptor.js";
import { RegisterHTMLHandler } from "mathjax-full/js/handlers/html.js";
import { AllPackages } from "mathjax-full/js/input/tex/AllPackages.js";

const site = process.argv[2] || "site";
const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
const packages = AllPackages.filter((p) => p !== "noundefined" && p !== "autoload" && p !== "require");
const tex = new TeX({
  packages,
  formatError: (jax, err) => {
    throw err;
  },
});
const doc = mathjax.document("", { InputJax: tex, OutputJax: new SVG({ fontCache: "none" }) });

const unescape = (s) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");

function* htmlFiles(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* htmlFiles(p);
    else if (e.name.endsWith(".html")) yield p;
  }
}

const FORMULA = /<(span|div) class="arithmatex">([\s\S]*?)<\/\1>/g;
let total = 0;
let failures = 0;
for (const file of htmlFiles(site)) {
  const html = fs.readFileSync(file, "utf8");
  let count = 0;
  for (const m of html.matchAll(FORMULA)) {
    let body = unescape(m[2]).trim();
    const display = body.startsWith("\\[");
    body = body.replace(/^\\[\[(]/, "").replace(/\\[\])]$/, "");
    count += 1;
    try {
      doc.convert(body, { display });
    } catch (err) {
      failures += 1;
      console.error(`${path.relative(site, file)}: ${err.message}\n    ${body.slice(0, 200)}`);
    }
  }
  if (count) console.log(`${path.relative(site, file)}: ${count} formulas`);
  total += count;
}
console.log(`${total} formulas typeset, ${failures} failed`);
if (total === 0) {
  console.error("no formulas found: is the site built, with pymdownx.arithmatex in generic mode?");
  process.exit(1);
}
process.exit(failures ? 1 : 0);
