// JSON calls to the school's API from a signed-in page (session cookie + CSRF token), shared by
// the engagement scripts (notes.js, lists.js, follow.js). Errors throw with the API.md error
// body's first detail or message.

export function csrfToken(fallback) {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : fallback || "";
}

export async function api(method, url, body, token) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(token) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    const details = Object.values(error.details || {}).flat();
    throw new Error(details[0] || error.message || `Request failed (${response.status}).`);
  }
  return data;
}
