/**
 * A browser-like HTTP client for the staff web over real HTTP (fetch): keeps cookies, follows nothing
 * by itself (tests look at redirects), and can pose as a client address behind the trusted proxy.
 */
export class WebClient {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly base: string,
    /** Sent as X-Forwarded-For; the test app trusts its proxy, so this is the client address it sees. */
    readonly clientIp = '198.51.100.10',
  ) {}

  async request(method: string, path: string, options: { form?: Record<string, string>; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { 'x-forwarded-for': this.clientIp, ...options.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined = options.body;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const response = await fetch(this.base + path, { method, headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  get(path: string, headers?: Record<string, string>): Promise<Response> {
    return this.request('GET', path, { headers });
  }

  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<Response> {
    return this.request('POST', path, { form, headers });
  }

  /** Fills in and sends the login form; returns the response to the POST. */
  async login(name: string, password: string, next?: string): Promise<Response> {
    const form = await (await this.get(`/login${next ? `?next=${encodeURIComponent(next)}` : ''}`)).text();
    return this.post('/login', { name, password, _csrf: formToken(form), next: hiddenField(form, 'next') });
  }

  /** The anti-CSRF token of the forms on a page. */
  async csrfFrom(path: string): Promise<string> {
    return formToken(await (await this.get(path)).text());
  }
}

export function formToken(page: string): string {
  return hiddenField(page, '_csrf');
}

function hiddenField(page: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  if (!match) throw new Error(`no ${name} field on the page`);
  return match[1].replace(/&amp;/g, '&').replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}
