// The header's search box (templates/base.html): suggestions from
// GET /api/v1/search/autocomplete?q= in a list box under it, following the ARIA 1.2 combobox
// pattern (list autocomplete, the input keeps the focus and points at the active option with
// aria-activedescendant). Keys: Down/Up move through the suggestions (and open them), Enter
// on one searches for its title, Escape closes the list (a second Escape clears the box),
// Tab closes it. Without this script the box is a plain form to /search/.
//
// Suggestions are set with textContent: titles are user text.

const DEBOUNCE_MS = 120;

function searchBox() {
  const form = document.querySelector("form.site-search");
  const input = document.getElementById("site-search-q");
  const list = document.getElementById("site-search-list");
  const status = document.getElementById("site-search-status");
  if (!form || !input || !list) return;

  let suggestions = [];
  let active = -1;
  let timer = null;
  let pending = null;
  let asked = "";

  function optionId(index) {
    return `site-search-option-${index}`;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    active = index;
    for (const [i, node] of [...list.children].entries()) {
      node.setAttribute("aria-selected", String(i === index));
    }
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", optionId(index));
      list.children[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function choose(index) {
    input.value = suggestions[index].text;
    close();
    form.requestSubmit ? form.requestSubmit() : form.submit();
  }

  function render() {
    list.replaceChildren();
    for (const [index, item] of suggestions.entries()) {
      const option = document.createElement("li");
      option.id = optionId(index);
      option.className = "site-search__option";
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      const text = document.createElement("span");
      text.textContent = item.text;
      const where = document.createElement("small");
      where.textContent = item.type === "course" ? "Course" : `Lecture · ${item.course.title}`;
      option.append(text, where);
      // mousedown, not click: the input keeps the focus (and the list stays open) until then.
      option.addEventListener("mousedown", (event) => {
        event.preventDefault();
        choose(index);
      });
      list.append(option);
    }
    active = -1;
    if (suggestions.length) {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    } else {
      close();
    }
    if (status) {
      const n = suggestions.length;
      status.textContent = n ? `${n} suggestion${n === 1 ? "" : "s"}, use the arrow keys` : "";
    }
  }

  async function fetchSuggestions(query) {
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      const response = await fetch(`/api/v1/search/autocomplete?${new URLSearchParams({ q: query })}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: pending.signal,
      });
      if (!response.ok) return;
      const data = await response.json();
      if (input.value.trim() !== query) return; // typed on meanwhile
      suggestions = data.suggestions || [];
      render();
    } catch (error) {
      if (error.name !== "AbortError") close();
    }
  }

  input.addEventListener("input", () => {
    const query = input.value.trim();
    clearTimeout(timer);
    if (!query) {
      if (pending) pending.abort();
      suggestions = [];
      asked = "";
      render();
      return;
    }
    timer = setTimeout(() => {
      asked = query;
      fetchSuggestions(query);
    }, DEBOUNCE_MS);
  });

  input.addEventListener("keydown", (event) => {
    const open = !list.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!suggestions.length) {
        if (input.value.trim() && input.value.trim() !== asked) fetchSuggestions(input.value.trim());
        return;
      }
      event.preventDefault();
      if (!open) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
      const step = event.key === "ArrowDown" ? 1 : -1;
      const next = active + step;
      highlight(next < -1 ? suggestions.length - 1 : next >= suggestions.length ? -1 : next);
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      if (open) {
        event.preventDefault();
        close();
      } else if (input.value) {
        event.preventDefault();
        input.value = "";
        suggestions = [];
      }
    } else if (event.key === "Tab") {
      close();
    }
  });

  input.addEventListener("blur", () => close());
  input.addEventListener("focus", () => {
    if (suggestions.length && input.value.trim()) render();
  });
}

searchBox();
