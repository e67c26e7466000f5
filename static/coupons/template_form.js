/* The template form shows only the fields the chosen kind, way of getting and validity use.
   Without this script every field shows and the service says which ones are needed; a field
   with an error always shows. */
(function () {
  var form = document.getElementById("template-form");
  if (!form) return;
  var byKind = {
    cash_off: ["discount", "min_spend"],
    percent_off: ["pay_percent", "cap", "min_spend"],
    paid_voucher: ["discount", "price"],
    gift: ["gift_item", "discount"],
  };
  var byObtain = { points: ["points_price"], campaign: ["campaign"],
                   purchase: ["refund_any_time", "refund_on_expiry"] };
  var byValidity = { fixed: ["valid_from", "valid_until"],
                     relative: ["valid_days", "start_delay_days"] };
  function value(name) {
    var checked = form.querySelector("[name=" + name + "]:checked");
    if (checked) return checked.value;
    var field = form.querySelector("select[name=" + name + "]");
    return field ? field.value : "";
  }
  function toggle(groups, chosen) {
    Object.keys(groups).forEach(function (key) {
      groups[key].forEach(function (name) {
        var box = document.getElementById("field-" + name);
        if (!box || box.querySelector(".errorlist")) return;
        var wanted = Object.keys(groups).some(function (k) {
          return k === chosen && groups[k].indexOf(name) >= 0;
        });
        box.style.display = wanted ? "" : "none";
      });
    });
  }
  function update() {
    toggle(byKind, value("kind"));
    toggle(byObtain, value("obtain"));
    toggle(byValidity, value("validity"));
  }
  form.addEventListener("change", update);
  update();
})();
