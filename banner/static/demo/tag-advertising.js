// The cookie a Meta pixel sets: the banner deletes it when advertising is declined.
document.cookie = "_fbp=fb.1.1.1; max-age=7776000; path=/; SameSite=Lax";
(window.cmpDemoRan = window.cmpDemoRan || []).push("advertising");
(window.dataLayer = window.dataLayer || []).push({event: "cmp-demo-tag", purpose: "advertising"});
document.dispatchEvent(new Event("cmp-demo-ran"));
