// Log in and sign up on one page, switched with tabs. Each API error goes
// beside the field it is about; errors about the whole attempt
// (invalid_credentials, rate_limited, network) go above the button.

import { h, icon, field } from '../dom.js';
import { codePointLength } from '../format.js';

// The contract's rules (PROTOCOL.md "Names and limits"), checked before a
// sign-up is sent so every problem is reported at once: the server stops
// at the first one it finds.
const USERNAME_RE = /^[a-z0-9_]{3,32}$/;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;

const FIELD_OF = {
  invalid_username: 'username',
  username_taken: 'username',
  invalid_password: 'password',
};

const MESSAGES = {
  invalid_username: 'Usernames are 3–32 characters: lowercase letters, digits and _.',
  username_taken: 'That username is taken. Try another one.',
  invalid_password: 'Passwords are 8–128 characters.',
  invalid_credentials: 'Wrong username or password.',
  rate_limited: 'Too many attempts. Wait a minute and try again.',
};

export function loginView({ api, onLoggedIn, initialMode = 'login', notice = '' }) {
  let mode = initialMode;

  const tabLogin = h('button', { type: 'button', role: 'tab', id: 'tab-login', class: 'tab', testid: 'auth-tab-login', 'aria-controls': 'auth-panel', text: 'Log in' });
  const tabSignup = h('button', { type: 'button', role: 'tab', id: 'tab-signup', class: 'tab', testid: 'auth-tab-signup', 'aria-controls': 'auth-panel', text: 'Sign up' });
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Log in or sign up' }, tabLogin, tabSignup);

  const username = field({
    id: 'auth-username',
    label: 'Username',
    testid: 'auth-username',
    input: h('input', { type: 'text', name: 'username', required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', maxlength: '32', testid: 'auth-username' }),
  });
  const password = field({
    id: 'auth-password',
    label: 'Password',
    testid: 'auth-password',
    input: h('input', { type: 'password', name: 'password', required: true, autocomplete: 'current-password', maxlength: '128', testid: 'auth-password' }),
  });
  const usernameHint = h('p', { class: 'field-hint', id: 'auth-username-hint', text: '3–32 characters: a–z, 0–9 and _' });
  const passwordHint = h('p', { class: 'field-hint', id: 'auth-password-hint', text: 'At least 8 characters' });
  username.input.after(usernameHint);
  password.input.after(passwordHint);

  const formError = h('p', { class: 'form-error', testid: 'auth-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn--primary btn--block', testid: 'auth-submit' });
  const form = h('form', { class: 'auth-form', id: 'auth-panel', role: 'tabpanel', testid: 'auth-form', novalidate: true }, username.el, password.el, formError, submit);
  const noticeEl = h('p', { class: 'auth-notice', testid: 'auth-notice', role: 'status', text: notice, hidden: !notice });

  const root = h(
    'main',
    { class: 'auth-page', testid: 'login-view' },
    h(
      'div',
      { class: 'auth-card' },
      h('div', { class: 'brand brand--lg' }, h('span', { class: 'brand-mark' }, icon('chat', 22)), h('span', { text: 'Chat' })),
      h('h1', { class: 'auth-title', id: 'auth-title' }),
      h('p', { class: 'auth-sub', id: 'auth-sub' }),
      noticeEl,
      tabs,
      form,
    ),
  );

  function setMode(next) {
    mode = next;
    const isLogin = mode === 'login';
    tabLogin.setAttribute('aria-selected', String(isLogin));
    tabSignup.setAttribute('aria-selected', String(!isLogin));
    tabLogin.tabIndex = isLogin ? 0 : -1;
    tabSignup.tabIndex = isLogin ? -1 : 0;
    form.setAttribute('aria-labelledby', isLogin ? 'tab-login' : 'tab-signup');
    form.dataset.mode = mode;
    root.querySelector('#auth-title').textContent = isLogin ? 'Welcome back' : 'Create your account';
    root.querySelector('#auth-sub').textContent = isLogin ? 'Log in to see your rooms.' : 'Pick a username and a password to start chatting.';
    submit.textContent = isLogin ? 'Log in' : 'Create account';
    password.input.autocomplete = isLogin ? 'current-password' : 'new-password';
    usernameHint.hidden = isLogin;
    passwordHint.hidden = isLogin;
    username.input.setAttribute('aria-describedby', isLogin ? 'auth-username-error' : 'auth-username-hint auth-username-error');
    password.input.setAttribute('aria-describedby', isLogin ? 'auth-password-error auth-error' : 'auth-password-hint auth-password-error auth-error');
    clearErrors();
  }

  function clearErrors() {
    username.setError('');
    password.setError('');
    formError.hidden = true;
    formError.textContent = '';
  }

  function showFormError(message) {
    formError.textContent = message;
    formError.hidden = false;
  }
  formError.id = 'auth-error';

  tabLogin.addEventListener('click', () => setMode('login'));
  tabSignup.addEventListener('click', () => setMode('signup'));
  // Arrow keys move between tabs (the ARIA tabs pattern).
  tabs.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      const next = mode === 'login' ? 'signup' : 'login';
      setMode(e.key === 'Home' ? 'login' : e.key === 'End' ? 'signup' : next);
      (mode === 'login' ? tabLogin : tabSignup).focus();
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    const name = username.input.value.trim().toLowerCase();
    const pass = password.input.value;
    let bad = false;
    if (!name) {
      username.setError('Enter your username.');
      bad = true;
    }
    if (!pass) {
      password.setError('Enter your password.');
      bad = true;
    }
    let nameBad = !name;
    if (mode === 'signup') {
      if (name && !USERNAME_RE.test(name)) {
        username.setError(MESSAGES.invalid_username);
        bad = nameBad = true;
      }
      const n = codePointLength(pass);
      if (pass && (n < PASSWORD_MIN || n > PASSWORD_MAX)) {
        password.setError(MESSAGES.invalid_password);
        bad = true;
      }
    }
    if (bad) {
      (nameBad ? username.input : password.input).focus();
      return;
    }
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    try {
      const res = mode === 'login' ? await api.login(name, pass) : await api.signup(name, pass);
      onLoggedIn(res);
    } catch (err) {
      const where = FIELD_OF[err.code];
      const message = MESSAGES[err.code] || err.message;
      if (where === 'username') {
        username.setError(message);
        username.input.focus();
      } else if (where === 'password') {
        password.setError(message);
        password.input.focus();
      } else {
        showFormError(message);
        if (err.code === 'invalid_credentials') password.input.select();
      }
    } finally {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
    }
  });

  setMode(mode);

  return {
    el: root,
    mounted() {
      username.input.focus();
    },
    destroy() {},
  };
}
