// Shows which gated tags ran, so a person can see the banner's effect.
function showRan() {
  var ran = window.cmpDemoRan || [];
  document.getElementById("ran").textContent = ran.length ? ran.join(", ") : "none";
}
document.addEventListener("cmp-demo-ran", showRan);
showRan();
