// Small fixes to the theme stack (sphinx-book-theme 1.3 on pydata-sphinx-theme 0.17), loaded on every page.

// The sidebar buttons. The pages have two copies of each toggle button: one in the site header,
// which sphinx-book-theme hides, and the visible one in the article header. Both themes bind
// their click handlers with document.querySelector(".primary-toggle"), i.e. to the first, hidden
// copy (upstream pydata-sphinx-theme#2451), so below 992 px the visible button did nothing and
// the chapters could not be reached. Forward a click on every other copy to the bound one.
document.addEventListener("DOMContentLoaded", () => {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [bound, ...others] = document.querySelectorAll(selector);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    }
  }
});
