import { html } from '../html';
import { page } from '../layout';

export interface LoginView {
  /** Anti-CSRF token of the login form (double-submitted in a cookie). */
  token: string;
  next: string;
  name?: string;
  error?: string;
}

export function loginPage(view: LoginView): string {
  return page(
    'Log in',
    html`<form class="login" method="post" action="/login">
  <h1>rebuild-desk staff</h1>
  ${view.error ? html`<div class="flash error" role="alert">${view.error}</div>` : ''}
  <label>Name<br><input type="text" name="name" value="${view.name ?? ''}" autocomplete="username" autofocus required></label>
  <label>Password<br><input type="password" name="password" autocomplete="current-password" required></label>
  <input type="hidden" name="_csrf" value="${view.token}">
  <input type="hidden" name="next" value="${view.next}">
  <button type="submit">Log in</button>
</form>`,
  );
}
