// The people picker of the request form: "Add" puts the person's user name in the owners or
// members box (one per line, never twice), then asks the server to check the box again.
// A static file, so the Content Security Policy needs no inline script.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-add-person]");
  if (!button) return;
  var picker = button.closest(".people-picker");
  var box = picker && document.getElementById(picker.dataset.field);
  if (!box) return;
  var upn = button.dataset.addPerson;
  var names = box.value.split(/[\s,;]+/).filter(Boolean).map(function (n) { return n.toLowerCase(); });
  if (names.indexOf(upn.toLowerCase()) === -1) {
    box.value = (box.value.replace(/\s+$/, "") + (box.value.trim() ? "\n" : "") + upn);
  }
  box.dispatchEvent(new Event("people-added", { bubbles: true }));
  var search = picker.querySelector("input[type=search]");
  if (search) { search.value = ""; search.focus(); }
  var found = picker.querySelector(".people-found");
  if (found) found.innerHTML = "";
});
