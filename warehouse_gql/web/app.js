// The dashboard shell: log in, keep the token in sessionStorage, one live connection, screens by URL hash.

import { GraphQLError, LiveClient, request, websocketUrl } from "./graphql.js";
import * as bins from "./bins.js";
import * as inventory from "./inventory.js";
import * as orders from "./orders.js";
import * as shipments from "./shipments.js";
import * as receiving from "./receiving.js";
import * as picking from "./picking.js";
import * as slotting from "./slotting.js";

const TOKEN_KEY = "warehouse.token";
const STAFF = ["MANAGER", "PICKER"];
const SCREENS = {
  bins: { module: bins, roles: STAFF },
  inventory: { module: inventory, roles: STAFF },
  orders: { module: orders, roles: ["MANAGER", "PICKER", "CUSTOMER"] },
  shipments: { module: shipments, roles: ["MANAGER", "PICKER", "CUSTOMER"] },
  receiving: { module: receiving, roles: STAFF },
  picking: { module: picking, roles: STAFF },
  slotting: { module: slotting, roles: ["MANAGER"] },
};
const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};
const ME = "query { me { id username role } }";
const LOG_IN = "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token user { id username role } } }";
const SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token user { id username role } } }";

const $ = (id) => document.getElementById(id);
const state = { token: null, user: null, live: null, unmount: null, screen: null };

async function api(query, variables = {}) {
  try {
    return await request(query, variables, state.token);
  } catch (error) {
    if (error instanceof GraphQLError && error.code === "UNAUTHENTICATED" && state.user) {
      endSession("Your session has ended. Please log in again.");
    }
    throw error;
  }
}

function showLogin(message, kind = "error") {
  $("nav").hidden = true;
  $("session").hidden = true;
  $("screen").replaceChildren();
  $("login").hidden = false;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
  error.className = `message ${kind}`;
  document.title = "Log in · Warehouse dashboard";
  $("login-form").elements.username.focus();
}

function start(token, user) {
  state.token = token;
  state.user = user;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("login").hidden = true;
  $("session").hidden = false;
  $("nav").hidden = false;
  $("who").textContent = `${user.username} (${user.role.toLowerCase()})`;
  for (const link of document.querySelectorAll("#nav a")) {
    link.parentElement.hidden = !SCREENS[link.dataset.screen].roles.includes(user.role);
  }
  state.live = new LiveClient({
    url: websocketUrl(),
    token,
    onStatus: (status) => {
      const indicator = $("connection");
      indicator.dataset.state = status;
      indicator.textContent = CONNECTION_TEXT[status] || status;
    },
    onSessionEnded: () => endSession("Your session has ended. Please log in again."),
  });
  route();
}

function endSession(message, kind = "error") {
  if (state.unmount) state.unmount();
  state.unmount = null;
  state.screen = null;
  if (state.live) state.live.stop();
  state.live = null;
  state.token = null;
  state.user = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin(message, kind);
}

function parseHash() {
  const [name, query = ""] = window.location.hash.replace(/^#/, "").split("?");
  return { name, params: new URLSearchParams(query) };
}

function route() {
  if (!state.user) return;
  let { name, params } = parseHash();
  const allowed = Object.keys(SCREENS).filter((key) => SCREENS[key].roles.includes(state.user.role));
  if (!allowed.includes(name)) {
    name = allowed[0];
    history.replaceState(null, "", `#${name}`);
  }
  if (state.unmount) state.unmount();
  const root = $("screen");
  root.replaceChildren();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.screen === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const context = {
    api,
    live: state.live,
    user: state.user,
    params,
    navigate: (hash) => {
      window.location.hash = hash;
    },
  };
  const moved = state.screen !== null && state.screen !== name;
  state.screen = name;
  state.unmount = SCREENS[name].module.mount(root, context);
  const heading = root.querySelector("h1");
  document.title = `${heading ? heading.textContent : name} · Warehouse dashboard`;
  // Keyboard and screen-reader users land on the new screen's heading, not the old link.
  if (moved && heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

async function submitAuth(form, errorBox, query, variables) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  errorBox.hidden = true;
  try {
    const data = await request(query, variables);
    const payload = data.logIn || data.signUp;
    form.reset();
    start(payload.token, payload.user);
  } catch (error) {
    errorBox.textContent = error.message;
    errorBox.className = "message error";
    errorBox.hidden = false;
  } finally {
    button.disabled = false;
  }
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  submitAuth(form, $("login-error"), LOG_IN, { u: form.elements.username.value, p: form.elements.password.value });
});

$("signup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  submitAuth(form, $("signup-error"), SIGN_UP, {
    i: { username: form.elements.username.value, email: form.elements.email.value, password: form.elements.password.value },
  });
});

$("logout").addEventListener("click", async () => {
  const token = state.token;
  endSession("You have logged out.", "info");
  try {
    await request("mutation { logOut }", {}, token);
  } catch {
    // Logging out locally is what matters; the token expires on its own if the server missed it.
  }
});

window.addEventListener("hashchange", route);

(async function resume() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showLogin();
    return;
  }
  try {
    const data = await request(ME, {}, token);
    if (data.me) {
      start(token, data.me);
      return;
    }
  } catch {
    // An expired or revoked token: fall through to the login form.
  }
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
})();
