(window.cmpDemoRan = window.cmpDemoRan || []).push("advertising");
(window.dataLayer = window.dataLayer || []).push({event: "cmp-demo-tag", purpose: "advertising"});
document.dispatchEvent(new Event("cmp-demo-ran"));
