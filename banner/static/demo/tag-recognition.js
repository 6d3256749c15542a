(window.cmpDemoRan = window.cmpDemoRan || []).push("recognition");
(window.dataLayer = window.dataLayer || []).push({event: "cmp-demo-tag", purpose: "recognition"});
document.dispatchEvent(new Event("cmp-demo-ran"));
