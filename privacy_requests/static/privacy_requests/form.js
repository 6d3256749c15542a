// The banner links here with "#visitor=<id>&token=<token>": a fragment never
// reaches any server or Referer header. Copy it into the form, then drop it
// from the address bar.
(function () {
  var params = new URLSearchParams(location.hash.slice(1));
  var id = params.get("visitor"), token = params.get("token");
  if (id && token) {
    document.getElementById("id_visitor_id").value = id;
    document.getElementById("id_visitor_token").value = token;
    document.getElementById("browser-note").hidden = false;
    history.replaceState(null, "", location.pathname + location.search);
  }
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
