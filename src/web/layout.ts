import { createHash } from 'node:crypto';
import { html, SafeHtml } from './html';

/**
 * The page frame. The style sheet is inline and allowed by its hash in the Content-Security-Policy
 * (see security-headers.ts), so pages need no static route and no script at all.
 */
export const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;background:#f5f6f8}
header{display:flex;align-items:center;gap:20px;padding:10px 24px;background:#1f2a37;color:#fff}
header .brand{font-weight:600;letter-spacing:.02em}
header nav{display:flex;gap:16px;flex:1}
header a{color:#d5dde8;text-decoration:none}
header a:hover,header a.on{color:#fff;text-decoration:underline}
header form{margin:0}
header button{background:none;border:1px solid #66768a;color:#d5dde8;border-radius:4px;padding:3px 10px;cursor:pointer}
main{max-width:1200px;margin:0 auto;padding:20px 24px}
h1{font-size:20px;margin:4px 0 16px}
h2{font-size:15px;margin:24px 0 8px;color:#37414d}
a{color:#1f5fb3}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #e8ebee;vertical-align:baseline}
th{background:#eef1f4;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:#4c5867}
tr:hover td{background:#fafbfc}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.mono,code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#fff;border:1px solid #dde1e6;padding:10px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-word;margin:0}
.muted{color:#6b7683}
.tag{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e6eaef;color:#37414d;white-space:nowrap}
.tag.forged{background:#fbe3e3;color:#8c1d1d}
.tag.not-entitled,.tag.ambiguous{background:#fff1d6;color:#7a4b00}
.tag.unknown-account,.tag.no-account{background:#e4effc;color:#194b8a}
.tag.approved,.tag.prioritized,.tag.done{background:#dff3e4;color:#1b6b33}
.tag.rejected,.tag.failed{background:#f0e2e2;color:#7b2b2b}
.filters{display:flex;gap:8px;align-items:center;margin-bottom:12px;flex-wrap:wrap}
input[type=text],input[type=search],input[type=password],select,textarea{font:inherit;padding:6px 8px;border:1px solid #c4cbd3;border-radius:4px;background:#fff}
textarea{width:100%;min-height:70px}
button,.button{font:inherit;padding:6px 14px;border-radius:4px;border:1px solid #1f5fb3;background:#1f5fb3;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary{background:#fff;color:#1f5fb3}
button.danger{background:#a12b2b;border-color:#a12b2b}
.pager{display:flex;gap:12px;align-items:center;margin-top:12px}
.flash{padding:9px 12px;border-radius:4px;margin-bottom:14px;border:1px solid}
.flash.ok{background:#e8f6ec;border-color:#a9d8b6}
.flash.error{background:#fcebea;border-color:#e6b3b0}
dl.facts{display:grid;grid-template-columns:170px 1fr;gap:4px 14px;background:#fff;border:1px solid #dde1e6;padding:12px;margin:0}
dl.facts dt{color:#5c6773}
dl.facts dd{margin:0;word-break:break-word}
.actions{display:grid;grid-template-columns:repeat(3,1fr);gap:12px}
.actions form{background:#fff;border:1px solid #dde1e6;padding:12px;display:flex;flex-direction:column;gap:8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
.card{background:#fff;border:1px solid #dde1e6;padding:12px}
.card .n{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
.login{max-width:340px;margin:80px auto;background:#fff;border:1px solid #dde1e6;padding:24px;display:flex;flex-direction:column;gap:10px}
`;

export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

export interface PageContext {
  staff: string;
  csrf: string;
  /** Which nav link is the current page. */
  section?: 'review' | 'progress' | 'status';
}

export function page(title: string, body: SafeHtml, ctx?: PageContext): string {
  const link = (href: string, label: string, section: PageContext['section']) =>
    html`<a href="${href}" class="${ctx?.section === section ? 'on' : ''}">${label}</a>`;
  const header = ctx
    ? html`<header>
  <span class="brand">rebuild-desk</span>
  <nav>${link('/review', 'Review', 'review')}${link('/progress', 'Progress', 'progress')}${link('/status', 'Account status', 'status')}<a href="/admin/queues">Queues</a></nav>
  <span class="muted">${ctx.staff}</span>
  <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button type="submit">Log out</button></form>
</header>`
    : html``;
  return `<!doctype html>
${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer">
<title>${title} · rebuild-desk</title><style>${new SafeHtml(STYLE)}</style></head>
<body>${header}<main>${body}</main></body></html>`}`;
}
