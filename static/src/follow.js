// The follow button of a public instructor page (/instructors/<id>/). The page is the same for
// every visitor, so the button is drawn here, for signed-in accounts only, from
// GET /api/v1/instructors/<id>/follow ({following}); POST follows, DELETE unfollows.
import { csrfToken } from "./lib/api.js";

async function followButton() {
  const holder = document.getElementById("follow");
  if (!holder) return;
  const url = `/api/v1/instructors/${holder.dataset.instructorId}/follow`;
  const answer = await fetch(url, { credentials: "same-origin" });
  if (!answer.ok) return; // a visitor without an account, or the instructor themselves
  let following = (await answer.json()).following;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button";
  button.id = "follow-button";
  const draw = () => {
    button.textContent = following ? "Following" : "Follow";
    button.setAttribute("aria-pressed", following ? "true" : "false");
  };
  draw();
  button.addEventListener("click", async () => {
    const response = await fetch(url, {
      method: following ? "DELETE" : "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    });
    if (response.ok) {
      following = (await response.json()).following;
      draw();
    }
  });
  holder.append(button);
  holder.hidden = false;
}

followButton();
