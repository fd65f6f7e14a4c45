// Accounts, shared by both pages: the `/auth/*` calls (sign-up, the emailed code, sign-in,
// refresh, password reset, sign-out), the password rules checked before anything is sent, and
// the forms that session.js shows while nobody is signed in. Errors are the API's own words
// (its `error` field); a 429 also says when to try again, from Retry-After.

import { $, h, ApiError, request } from "/assets/common.js";

/**
 * The user pool's password policy, as the API checks it (`PasswordPolicy::USER_POOL`): shown
 * beside every new password and checked before it is sent. The server checks again.
 */
const PASSWORD_RULES = [
  { id: "length", text: "at least 12 characters", ok: (p) => [...p].length >= 12 },
  { id: "lower", text: "a lower-case letter", ok: (p) => /[a-z]/.test(p) },
  { id: "upper", text: "an upper-case letter", ok: (p) => /[A-Z]/.test(p) },
  { id: "digit", text: "a digit", ok: (p) => /[0-9]/.test(p) },
];

/** Every rule `password` breaks, in the API's words; empty when it may be sent. */
export function passwordProblems(password) {
  const problems = PASSWORD_RULES.filter((rule) => !rule.ok(password)).map((rule) => rule.text);
  if (password.trim() !== password) problems.push("no space at the start or end");
  return problems;
}

/** The API's words as a sentence: "the code is wrong" reads "The code is wrong." */
export function sentence(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** "Try again in 45 seconds.", "in 2 minutes", or "at 14:05" for longer waits. */
export function tryAgainText(at, now = Date.now()) {
  const seconds = Math.max(1, Math.ceil((at - now) / 1000));
  if (seconds < 90) return `Try again in ${seconds} ${seconds === 1 ? "second" : "seconds"}.`;
  if (seconds < 3600) return `Try again in ${Math.ceil(seconds / 60)} minutes.`;
  return `Try again at ${new Date(at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}.`;
}

/** The words for an error of an `/auth/*` call: the API's text, and when to try again. */
export function errorText(error) {
  const words = sentence(error.message);
  return error.retryAt ? `${words} ${tryAgainText(error.retryAt)}` : words;
}

/** POSTs `body` to an `/auth/*` route; answers the parsed JSON (null for 204) or throws an ApiError. */
async function auth(path, body, bearer) {
  const { data } = await request("POST", path, { token: bearer, body, cache: "no-store" });
  return data;
}

/** New ID and access tokens for a refresh token (which stays the same). */
export function refreshSession(refreshToken) {
  return auth("/auth/refresh", { refresh_token: refreshToken });
}

/** Ends every session of the account the access token belongs to. */
export function logout(accessToken) {
  return auth("/auth/logout", undefined, accessToken);
}

/** A labelled input in a `.field`. */
function field(id, label, attrs, hint) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, ...attrs }),
    hint,
  );
}

/** The password rules as a list that ticks each rule off as the password is typed. */
function rulesFor(input) {
  const list = h(
    "ul",
    { class: "password-rules", id: `${input.id}-rules`, "aria-label": "The password needs" },
    PASSWORD_RULES.map((rule) => h("li", { "data-rule": rule.id, "data-ok": "false" }, rule.text)),
  );
  const update = () => {
    for (const rule of PASSWORD_RULES) {
      list.querySelector(`[data-rule="${rule.id}"]`).dataset.ok = String(rule.ok(input.value));
    }
  };
  input.setAttribute("aria-describedby", list.id);
  input.addEventListener("input", update);
  update();
  return list;
}

/** A button that looks like a link and moves to another of the forms. */
function goTo(view, text, show) {
  return h("button", { type: "button", class: "link-button", "data-goto": view, onclick: () => show(view) }, text);
}

/**
 * The account forms in `root`, one at a time: `signin`, `register`, `confirm` (the emailed
 * code), `forgot` and `reset` (the code and a new password). `say({error, note})` shows a
 * message above them (an empty object clears it); `onTokens(tokens)` gets what signing in
 * answered. `role` picks the words. Answers `{ show(view, {email, note, error}) }`.
 */
export function createAccountForms({ root, role, say, onTokens }) {
  let email = ""; // kept across the forms, so that it is typed once
  const newcomer = role === "owner"
    ? "New here? Create an account, and an admin adds it to your restaurant."
    : "New accounts are owners' accounts; an admin makes an account a moderator's.";

  function show(view, { note, error } = {}) {
    say({ note: note ? [note] : [], error: error ? [error] : [] });
    const build = VIEWS[view] || VIEWS.signin;
    root.replaceChildren(build());
    const first = [...root.querySelectorAll("input")].find((input) => !input.value);
    (first || root.querySelector("input"))?.focus();
  }

  /** Wires a form: checks, sends with the button busy, and shows the API's words on failure. */
  function form(view, title, fields, submit, busyText, send, links) {
    const button = h("button", { type: "submit", class: "button primary" }, submit);
    const element = h(
      "form",
      { id: "account-form", class: "signin-form account-form", "data-view": view, novalidate: true },
      h("h2", {}, title),
      fields,
      button,
      h("p", { class: "account-links" }, links),
    );
    element.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (button.disabled) return;
      const values = Object.fromEntries(new FormData(element));
      if (values.email !== undefined) email = values.email.trim();
      button.disabled = true;
      button.textContent = busyText;
      try {
        await send(values);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.reason === "not_confirmed") {
          show("confirm", { error: errorText(error) });
          return;
        }
        say({ error: [errorText(error)] });
      } finally {
        button.disabled = false;
        button.textContent = submit;
      }
    });
    return element;
  }

  const emailField = () => field("account-email", "Email", {
    name: "email", type: "email", autocomplete: "username", required: true, value: email,
  });
  const codeField = (hint) => field("account-code", "Code", {
    name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", required: true,
    pattern: "[0-9]*", maxlength: "64", spellcheck: "false",
  }, h("span", { class: "hint" }, hint));
  const newPasswordField = (label) => {
    const input = h("input", {
      id: "account-password", name: "password", type: "password", autocomplete: "new-password", required: true,
    });
    return h("div", { class: "field" }, h("label", { for: input.id }, label), input, rulesFor(input));
  };

  /** Refuses a password that breaks a rule before it is sent, in the words the API would use. */
  function checkPassword(password) {
    const problems = passwordProblems(password);
    if (problems.length === 0) return true;
    say({ error: [`The password needs ${problems.join(", ")}.`] });
    $("#account-password")?.focus();
    return false;
  }

  const VIEWS = {
    signin: () => form("signin", "Sign in", [
      emailField(),
      field("account-password", "Password", {
        name: "password", type: "password", autocomplete: "current-password", required: true,
      }),
    ], "Sign in", "Signing in…", async ({ password }) => {
      if (!email || !password) {
        say({ error: ["Enter your email address and your password."] });
        return;
      }
      const tokens = await auth("/auth/login", { email, password });
      onTokens(tokens);
    }, [goTo("forgot", "Forgot your password?", show), " · ", goTo("register", "Create an account", show),
      " · ", goTo("confirm", "Enter a code", show)]),

    register: () => form("register", "Create an account", [
      h("p", { class: "hint" }, newcomer),
      emailField(),
      newPasswordField("Password"),
    ], "Create account", "Creating…", async ({ password }) => {
      if (!checkPassword(password)) return;
      const answer = await auth("/auth/register", { email, password });
      show("confirm", { note: `${sentence(answer?.message || "We have emailed you a code.")}` });
    }, ["Have an account? ", goTo("signin", "Sign in", show)]),

    confirm: () => form("confirm", "Confirm your email", [
      emailField(),
      codeField("The six digits in the email we sent you."),
    ], "Confirm", "Confirming…", async ({ code }) => {
      await auth("/auth/confirm", { email, code: code.trim() });
      show("signin", { note: "Your email address is confirmed: sign in." });
    }, [goTo("signin", "Back to sign-in", show)]),

    forgot: () => form("forgot", "Forgot your password?", [
      h("p", { class: "hint" }, "We email you a code; with it you choose a new password."),
      emailField(),
    ], "Email me a code", "Sending…", async () => {
      const answer = await auth("/auth/forgot", { email });
      show("reset", { note: sentence(answer?.message || "We have emailed you a code.") });
    }, [goTo("reset", "I have a code", show), " · ", goTo("signin", "Back to sign-in", show)]),

    reset: () => form("reset", "Choose a new password", [
      emailField(),
      codeField("The six digits in the email we sent you."),
      newPasswordField("New password"),
    ], "Change password", "Changing…", async ({ code, password }) => {
      if (!checkPassword(password)) return;
      await auth("/auth/reset", { email, code: code.trim(), password });
      show("signin", { note: "Your password is changed: sign in with the new one." });
    }, [goTo("signin", "Back to sign-in", show)]),
  };

  return { show };
}
