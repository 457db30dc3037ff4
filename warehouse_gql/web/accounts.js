// Accounts: "My account" for everyone (change password, one's live sessions) and "Users" for
// managers (create staff, change roles, end a user's sessions).

import { count, formatTime, h, moreButton, Pager, replace, showMessage } from "./dom.js";

const SESSIONS = "query { me { id sessions { id createdAt lastUsedAt userAgent current } } }";
const CHANGE_PASSWORD = "mutation($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) }";
const USER_FIELDS = "id username email role createdAt";
const USERS = `query($first: Int, $after: String, $withCount: Boolean!) {
  users(first: $first, after: $after) {
    totalCount @include(if: $withCount)
    edges { node { ${USER_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;
const CREATE_USER = `mutation($i: CreateUserInput!) { createUser(input: $i) { ${USER_FIELDS} } }`;
const SET_ROLE = `mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { ${USER_FIELDS} } }`;
const REVOKE = "mutation($id: ID!) { revokeSessions(userId: $id) }";
const ROLES = ["MANAGER", "PICKER", "CUSTOMER"];
const ROLE_TEXT = { MANAGER: "Manager", PICKER: "Picker", CUSTOMER: "Customer" };

/** The "My account" screen. */
export const account = {
  mount(root, { api, user }) {
    const message = h("p", { class: "message", role: "status" });
    const sessions = h("ul", { class: "sessions", id: "my-sessions" });
    const form = h("form", { class: "stack", id: "password-form", "aria-label": "Change password" },
      h("label", {}, "Current password ", h("input", { name: "current", type: "password", autocomplete: "current-password", required: true })),
      h("label", {}, "New password (8 characters or more) ", h("input", { name: "next", type: "password", autocomplete: "new-password", required: true, minlength: 8 })),
      h("label", {}, "New password again ", h("input", { name: "again", type: "password", autocomplete: "new-password", required: true, minlength: 8 })),
      h("button", { type: "submit", class: "primary" }, "Change password"),
      message);

    root.append(
      h("section", { class: "screen", "aria-labelledby": "account-heading" },
        h("div", { class: "screen-head" }, h("h1", { id: "account-heading" }, "My account")),
        h("p", {}, `${user.username}, ${ROLE_TEXT[user.role].toLowerCase()}.`),
        h("div", { class: "two-columns" },
          h("section", { class: "panel", "aria-labelledby": "password-heading" },
            h("h2", { id: "password-heading" }, "Change password"),
            h("p", { class: "hint" }, "Every other session of yours ends: other devices log in again."),
            form),
          h("section", { class: "panel", "aria-labelledby": "sessions-heading" },
            h("h2", { id: "sessions-heading" }, "Where you are logged in"),
            sessions))));

    async function loadSessions() {
      try {
        const me = (await api(SESSIONS)).me;
        replace(sessions, me.sessions.map((s) => h("li", { dataset: { current: String(s.current) } },
          h("strong", {}, s.current ? "This browser" : s.userAgent || "Unknown client"),
          h("span", { class: "meta" }, ` · since ${formatTime(s.createdAt)}, last used ${formatTime(s.lastUsedAt)}`))));
      } catch (error) {
        replace(sessions, h("li", { class: "message error" }, error.message));
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.elements.next.value !== form.elements.again.value) {
        showMessage(message, "error", "The two new passwords differ.");
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await api(CHANGE_PASSWORD, { current: form.elements.current.value, next: form.elements.next.value });
        form.reset();
        showMessage(message, "ok", "Password changed. Your other sessions have ended.");
        await loadSessions();
      } catch (error) {
        showMessage(message, "error", error.message);
      } finally {
        button.disabled = false;
      }
    });

    loadSessions();
    return () => {};
  },
};

/** The "Users" screen (managers). */
export const users = {
  mount(root, { api, user }) {
    const pager = new Pager(api, USERS, "users", 50);
    const status = h("p", { class: "message", role: "status" });
    const summary = h("p", { class: "hint", id: "users-count" });
    const body = h("tbody", {});
    const rowMessages = new Map();
    const more = moreButton("Load more", async () => {
      try {
        await pager.more();
        render();
      } catch (error) {
        showMessage(status, "error", error.message);
      }
    });

    const createMessage = h("p", { class: "message", role: "status" });
    const create = h("form", { class: "inline-form", id: "create-user-form", "aria-label": "New staff account" },
      h("label", {}, "Username ", h("input", { name: "username", required: true, minlength: 3, maxlength: 64, autocomplete: "off" })),
      h("label", {}, "Email ", h("input", { name: "email", type: "email", required: true, autocomplete: "off" })),
      h("label", {}, "Password ", h("input", { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" })),
      h("label", {}, "Role ", h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === "PICKER" }, ROLE_TEXT[r])))),
      h("button", { type: "submit", class: "primary" }, "Create account"),
      createMessage);

    root.append(
      h("section", { class: "screen", "aria-labelledby": "users-heading" },
        h("div", { class: "screen-head" },
          h("h1", { id: "users-heading" }, "Users"),
          h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh")),
        h("details", { class: "panel", open: true }, h("summary", {}, "New staff account"), create),
        status,
        summary,
        h("div", { class: "table-wrap" }, h("table", { class: "table", id: "users-table" },
          h("caption", { class: "visually-hidden" }, "Accounts, oldest first"),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Username"), h("th", { scope: "col" }, "Email"),
            h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Since"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Sessions")))),
          body)),
        more));

    function render() {
      replace(body, pager.nodes.map((u) => {
        const self = u.id === user.id;
        const role = h("select", { "aria-label": `Role of ${u.username}`, disabled: self },
          ROLES.map((r) => h("option", { value: r, selected: r === u.role }, ROLE_TEXT[r])));
        role.addEventListener("change", () => act(u, () => api(SET_ROLE, { id: u.id, role: role.value }).then((d) => {
          Object.assign(u, d.setUserRole);
          return `${u.username} is now a ${ROLE_TEXT[u.role].toLowerCase()}.`;
        })));
        const revoke = h("button", { type: "button", class: "secondary", "aria-label": `End every session of ${u.username}` }, "End sessions");
        revoke.addEventListener("click", () => act(u, () => api(REVOKE, { id: u.id }).then((d) =>
          `${d.revokeSessions === 1 ? "1 session" : `${d.revokeSessions} sessions`} of ${u.username} ended.`)));
        const note = rowMessages.get(u.id);
        return h("tr", { dataset: { userId: u.id, username: u.username, role: u.role } },
          h("td", {}, u.username, self ? h("span", { class: "meta" }, " (you)") : null),
          h("td", {}, u.email),
          h("td", {}, role),
          h("td", {}, formatTime(u.createdAt)),
          h("td", {}, self ? null : revoke,
            note ? h("span", { class: `message ${note.kind}`, role: note.kind === "error" ? "alert" : "status" }, note.text) : null));
      }));
      summary.textContent = `${count(pager.total)} account${pager.total === 1 ? "" : "s"}, oldest first.`;
      more.hidden = !pager.hasNext;
    }

    async function act(u, action) {
      try {
        rowMessages.set(u.id, { kind: "ok", text: await action() });
      } catch (error) {
        rowMessages.set(u.id, { kind: "error", text: error.message });
      }
      render();
    }

    create.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = create.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const made = (await api(CREATE_USER, {
          i: {
            username: create.elements.username.value,
            email: create.elements.email.value,
            password: create.elements.password.value,
            role: create.elements.role.value,
          },
        })).createUser;
        if (!pager.hasNext) pager.nodes.push(made);  // oldest first: a new account goes last
        pager.total += 1;
        create.reset();
        showMessage(createMessage, "ok", `Account ${made.username} (${ROLE_TEXT[made.role].toLowerCase()}) created.`);
        render();
      } catch (error) {
        showMessage(createMessage, "error", error.message);
      } finally {
        button.disabled = false;
      }
    });

    async function load() {
      try {
        if (await pager.reset({})) render();
        showMessage(status, "", "");
      } catch (error) {
        showMessage(status, "error", error.message);
      }
    }
    load();
    return () => {};
  },
};
