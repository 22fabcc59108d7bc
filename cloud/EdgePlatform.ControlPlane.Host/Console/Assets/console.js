// Live regions: the server sends "changed" over server-sent events when what the page shows has
// moved; the page fetches itself again and swaps in each element marked data-live, keeping focus.
(() => {
  "use strict";
  const feed = document.body.dataset.liveFeed;
  if (!feed || !("EventSource" in window)) {
    return;
  }

  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) {
        return;
      }
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const focused = document.activeElement && document.activeElement.id;
      for (const region of document.querySelectorAll("[data-live]")) {
        const replacement = fresh.getElementById(region.id);
        if (replacement) {
          region.innerHTML = replacement.innerHTML;
        }
      }
      if (focused) {
        const element = document.getElementById(focused);
        if (element) {
          element.focus();
        }
      }
      document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates || "0") + 1);
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  const source = new EventSource(feed);
  source.addEventListener("changed", refresh);
  source.addEventListener("open", () => { document.body.dataset.live = "connected"; });
  source.addEventListener("error", () => { document.body.dataset.live = "reconnecting"; });
})();
