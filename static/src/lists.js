// Saved lists (engagement): the /lists/ page (create, rename, delete, remove items, reorder by
// drag and drop with SortableJS: PUT /api/v1/lists/<id>/items/order with every item's id) and
// the "Watch later" button of the student's course page (POST /api/v1/lists/<id>/items).
import Sortable from "sortablejs";
import { api } from "./lib/api.js";

function say(text) {
  const status = document.getElementById("lists-status") || document.getElementById("watch-later-status");
  if (status) status.textContent = text;
}

function listsPage() {
  const create = document.getElementById("list-create");
  if (!create) return;
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/api/v1/lists", { name: document.getElementById("list-name").value });
      window.location.reload();
    } catch (error) {
      say(error.message);
    }
  });
  for (const section of document.querySelectorAll("[data-list-id]")) {
    const base = `/api/v1/lists/${section.dataset.listId}`;
    section.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      try {
        if (button.hasAttribute("data-rename")) {
          const heading = section.querySelector(".saved-list__name");
          const name = window.prompt("New name", heading.textContent);
          if (name === null) return;
          const data = await api("PATCH", base, { name });
          heading.textContent = data.name;
        } else if (button.hasAttribute("data-delete-list")) {
          if (!window.confirm("Delete this list?")) return;
          await api("DELETE", base);
          section.remove();
        } else if (button.hasAttribute("data-remove")) {
          const item = button.closest("[data-item-id]");
          await api("DELETE", `${base}/items/${item.dataset.itemId}`);
          item.remove();
        }
      } catch (error) {
        say(error.message);
      }
    });
    const items = section.querySelector("[data-sortable]");
    if (!items) continue;
    Sortable.create(items, {
      handle: ".drag-handle",
      animation: 150,
      onEnd: async () => {
        const ids = [...items.querySelectorAll("[data-item-id]")].map((li) => Number(li.dataset.itemId));
        try {
          await api("PUT", `${base}/items/order`, { item_ids: ids });
          say("Order saved.");
        } catch (error) {
          say(error.message);
        }
      },
    });
  }
}

function watchLater() {
  const button = document.getElementById("watch-later");
  if (!button) return;
  button.addEventListener("click", async () => {
    try {
      const lists = await api("GET", "/api/v1/lists");
      const later = lists.results.find((item) => item.kind === "watch_later");
      await api("POST", `/api/v1/lists/${later.id}/items`, { course_id: button.dataset.courseId });
      button.textContent = "In Watch later";
    } catch (error) {
      if (!/already/i.test(error.message)) return say(error.message);
      button.textContent = "In Watch later";
    }
    button.disabled = true;
  });
}

listsPage();
watchLater();
