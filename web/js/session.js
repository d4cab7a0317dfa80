// The login session kept in localStorage: the bearer token and who it is.
// localStorage can throw (private modes, disabled storage); then the session
// only lasts as long as the page.

const TOKEN_KEY = 'chat.token';
const USER_KEY = 'chat.username';
let memory = { token: null, username: null };

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* storage unavailable: keep it in memory only */
  }
}

export const session = {
  get token() {
    return memory.token ?? read(TOKEN_KEY);
  },
  get username() {
    return memory.username ?? read(USER_KEY);
  },
  save(token, username) {
    memory = { token, username };
    write(TOKEN_KEY, token);
    write(USER_KEY, username);
  },
  clear() {
    memory = { token: null, username: null };
    write(TOKEN_KEY, null);
    write(USER_KEY, null);
  },
  /** Another tab logged out (or in as someone else): call fn. */
  onExternalChange(fn) {
    window.addEventListener('storage', (e) => {
      if (e.key === TOKEN_KEY) {
        memory = { token: null, username: null }; // re-read from storage from now on
        fn(e.newValue);
      }
    });
  },
};
