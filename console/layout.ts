/** The page frame: navigation for a logged-in operator, the flash message, the CSRF-protected logout form. */
import { html, type Html } from './html';

export interface PageOptions {
  title: string;
  operator?: string | null;
  csrf?: string;
  /** ?ok= / ?err= after a form post (plain text, escaped). */
  flash?: { ok?: string; err?: string };
  body: Html;
}

const NAV: Array<[string, string]> = [
  ['/', 'Dashboard'],
  ['/clients', 'Clients'],
  ['/deposits', 'Deposits'],
  ['/cashouts', 'Cash-outs'],
  ['/reconciliation', 'Reconciliation'],
  ['/emergency', 'Emergency'],
];

export function page(o: PageOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${o.title} · Satoshi Machine</title>
<link rel="stylesheet" href="/assets/console.css">
</head>
<body>
<header>
  <span class="brand">Satoshi Machine</span>
  ${o.operator
    ? html`<nav>${NAV.map(([href, label]) => html`<a href="${href}">${label}</a>`)}</nav>
      <form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${o.csrf}"><span class="who">${o.operator}</span> <button>Log out</button></form>`
    : ''}
</header>
<main>
<h1>${o.title}</h1>
${o.flash?.ok ? html`<p class="flash ok" role="status">${o.flash.ok}</p>` : ''}
${o.flash?.err ? html`<p class="flash err" role="alert">${o.flash.err}</p>` : ''}
${o.body}
</main>
</body>
</html>
`.value;
}

export const CONSOLE_CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f5f6f8}
header{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.2rem;background:#1d2330;color:#fff;flex-wrap:wrap}
header a{color:#cfd6e6;text-decoration:none;margin-right:1rem}header a:hover{color:#fff}.brand{font-weight:700;color:#f7931a}
header form{margin-left:auto}.who{color:#cfd6e6;margin-right:.4rem}
main{max-width:1100px;margin:1.2rem auto;padding:0 1rem}h1{font-size:1.5rem;margin:.2rem 0 1rem}h2{font-size:1.15rem;margin:1.6rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff;margin:.3rem 0 1rem}th,td{text-align:left;padding:.35rem .55rem;border-bottom:1px solid #e3e6eb;vertical-align:top}
th{background:#eef0f4;font-weight:600;font-size:.85rem}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:.8rem;margin-bottom:1rem}
.card{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:.7rem .9rem}.card .label{font-size:.8rem;color:#5b6475}.card .value{font-size:1.3rem;font-weight:600}
.flash{padding:.55rem .8rem;border-radius:5px}.ok{background:#e3f5e8;color:#17592d}.err{background:#fde8e8;color:#8a1c1c}
.badge{display:inline-block;padding:0 .45rem;border-radius:3px;font-size:.8rem;background:#eef0f4}.badge.bad{background:#fde8e8;color:#8a1c1c}.badge.good{background:#e3f5e8;color:#17592d}
form.inline{display:inline}form.box{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:.8rem;margin:.5rem 0 1rem;display:flex;flex-wrap:wrap;gap:.6rem;align-items:end}
label{display:flex;flex-direction:column;font-size:.8rem;color:#5b6475;gap:.15rem}input,select,button{font:inherit;padding:.3rem .5rem}
button{background:#1d2330;color:#fff;border:0;border-radius:4px;cursor:pointer}button.danger{background:#b3261e}button.secondary{background:#5b6475}
.muted{color:#5b6475}.mono{font-family:ui-monospace,Menlo,monospace;font-size:.85rem;word-break:break-all}svg{background:#fff;border:1px solid #e3e6eb;border-radius:6px;max-width:100%}
`;
