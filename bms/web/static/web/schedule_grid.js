// The week-grid editor (templates/web/_week_grid.html): add a row to a day from its template,
// remove a row. What the form posts is read by bms/web/schedule_grid.py; no JSON is built here.
"use strict";
(function () {
  const grid = document.getElementById("week-grid");
  if (!grid) return;
  grid.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const day = button.closest("fieldset.day");
    if (button.classList.contains("add-entry")) {
      const row = day.querySelector("template.entry-template").content.firstElementChild.cloneNode(true);
      day.querySelector("tbody").append(row);
      row.querySelector("input[type=time]").focus();
    } else if (button.classList.contains("remove-entry")) {
      button.closest("tr.entry").remove();
    }
  });
})();
