// Accessible tabs (WAI-ARIA tabs pattern, automatic activation): a [role=tablist] of
// [role=tab] buttons, each controlling a [role=tabpanel]. Arrow keys move between tabs,
// Home and End go to the first and last; only the selected tab is in the tab order.
// Without JavaScript every panel is shown (the server renders none hidden).

export function initTabs(tablist, { onSelect = () => {} } = {}) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const panels = tabs.map((tab) => document.getElementById(tab.getAttribute("aria-controls")));

  function select(index, { focus = false } = {}) {
    tabs.forEach((tab, i) => {
      const selected = i === index;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      panels[i].hidden = !selected;
    });
    if (focus) tabs[index].focus();
    onSelect(tabs[index].dataset.tab, panels[index]);
  }

  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(index));
    tab.addEventListener("keydown", (event) => {
      let next = null;
      if (event.key === "ArrowRight" || event.key === "ArrowDown") next = (index + 1) % tabs.length;
      if (event.key === "ArrowLeft" || event.key === "ArrowUp")
        next = (index - 1 + tabs.length) % tabs.length;
      if (event.key === "Home") next = 0;
      if (event.key === "End") next = tabs.length - 1;
      if (next !== null) {
        event.preventDefault();
        select(next, { focus: true });
      }
    });
  });

  const wanted = tabs.findIndex((tab) => `#${tab.dataset.tab}` === window.location.hash);
  const current = tabs.findIndex((tab) => tab.getAttribute("aria-selected") === "true");
  select(wanted >= 0 ? wanted : Math.max(current, 0));
  return {
    show(name, options = {}) {
      const index = tabs.findIndex((tab) => tab.dataset.tab === name);
      if (index >= 0) select(index, options);
    },
  };
}
