// Reads a GPP string into the sections' fields, for the page API's getSection and getField (gpp.js).
// Only the US sections the platform writes (consent/gpp.py, whose layouts are the IAB's @iabgpp/cmpapi
// 3.2.0): the table below is the same layouts, and tests/unit/test_gpp_page_api.py checks, for every
// string the platform makes, that this reads what the IAB's library reads.

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// A field is "Name" (2 bits), "Name:6" (6 bits) or "Name*9" (a list of 9 values of 2 bits).
const MSPA = " MspaCoveredTransaction MspaOptOutOptionMode MspaServiceProviderMode";
const V1 = "Version:6 SharingNotice SaleOptOutNotice TargetedAdvertisingOptOutNotice SaleOptOut TargetedAdvertisingOptOut";
const PROCESSING = " ProcessingNotice SaleOptOutNotice TargetedAdvertisingOptOutNotice SaleOptOut TargetedAdvertisingOptOut";
const V2 = "Version:6" + PROCESSING;
const MSPA_FIRST = "MspaVersion:6 MspaCoveredTransaction MspaMode" + PROCESSING;
const CHILD = " KnownChildSensitiveDataConsents";
const MORE = " AdditionalDataProcessingConsent";
const SENSITIVE = "SensitiveDataProcessing*8";

// Section id: [name, core segment, whether a GPC segment follows, or the second segment's fields].
export const LAYOUTS = {
  7: ["usnat", "Version:6 SharingNotice SaleOptOutNotice SharingOptOutNotice TargetedAdvertisingOptOutNotice " +
      "SensitiveDataProcessingOptOutNotice SensitiveDataLimitUseNotice SaleOptOut SharingOptOut " +
      "TargetedAdvertisingOptOut SensitiveDataProcessing*16 KnownChildSensitiveDataConsents*3 PersonalDataConsents" + MSPA, 1],
  8: ["usca", "Version:6 SaleOptOutNotice SharingOptOutNotice SensitiveDataLimitUseNotice SaleOptOut SharingOptOut " +
      "SensitiveDataProcessing*9 KnownChildSensitiveDataConsents*2 PersonalDataConsents" + MSPA, 1],
  9: ["usva", V1 + " SensitiveDataProcessing*8" + CHILD + MSPA, 0],
  10: ["usco", V1 + " SensitiveDataProcessing*7" + CHILD + MSPA, 1],
  11: ["usut", "Version:6 SharingNotice SaleOptOutNotice TargetedAdvertisingOptOutNotice SensitiveDataProcessingOptOutNotice " +
       "SaleOptOut TargetedAdvertisingOptOut SensitiveDataProcessing*8" + CHILD + MSPA, 0],
  12: ["usct", V1 + " SensitiveDataProcessing*8" + CHILD + "*3" + MSPA, 1],
  14: ["usmt", V1 + " SensitiveDataProcessing*8" + CHILD + "*3" + MORE + MSPA, 1],
  15: ["usor", V2 + " SensitiveDataProcessing*11" + CHILD + "*3" + MORE + MSPA, 1],
  16: ["ustx", V2 + " SensitiveDataProcessing*8" + CHILD + MORE + MSPA, 1],
  17: ["usde", V2 + " SensitiveDataProcessing*9" + CHILD + "*5" + MORE + MSPA, 1],
  18: ["usia", "Version:6 ProcessingNotice SaleOptOutNotice TargetedAdvertisingOptOutNotice SensitiveDataOptOutNotice " +
       "SaleOptOut TargetedAdvertisingOptOut SensitiveDataProcessing*8" + CHILD + MSPA, 1],
  19: ["usne", V2 + " SensitiveDataProcessing*8" + CHILD + MORE + MSPA, 1],
  20: ["usnh", V2 + " SensitiveDataProcessing*8" + CHILD + "*3" + MORE + MSPA, 1],
  21: ["usnj", V2 + " SensitiveDataProcessing*10" + CHILD + "*5" + MORE + MSPA, 1],
  22: ["ustn", V2 + " SensitiveDataProcessing*8" + CHILD + MORE + MSPA, 1],
  23: ["usmn", V2 + " SensitiveDataProcessing*8" + CHILD + MORE + MSPA, 1],
  // The 2025 layout: the MSPA fields first; Indiana, Kentucky and Rhode Island have no GPC segment
  // but a second one of sensitive data consents.
  24: ["usmd", MSPA_FIRST + MORE, 1],
  25: ["usin", MSPA_FIRST + CHILD + MORE, SENSITIVE],
  26: ["usky", MSPA_FIRST + CHILD + MORE, SENSITIVE],
  27: ["usri", MSPA_FIRST + CHILD + MORE, SENSITIVE]
};

const GPC = "GpcSegmentType Gpc:1";

// A segment's bits, read in order: int(n) is the next n bits as a number.
function reader(segment) {
  let bits = "", at = 0;
  for (const c of segment) {
    const v = B64.indexOf(c);
    if (v < 0) throw new Error("not base64url: " + c);
    bits += (v + 64).toString(2).slice(1);
  }
  const int = n => {
    if (at + n > bits.length) throw new Error("the segment ends too soon");
    return parseInt(bits.slice(at, at += n), 2);
  };
  // Fibonacci coding: Zeckendorf bits, smallest first, ended by a second 1 in a row.
  const fibonacci = () => {
    let value = 0, a = 1, b = 2, last = 0;
    for (;;) {
      const bit = int(1);
      if (bit && last) return value;
      if (bit) value += a;
      last = bit;
      [a, b] = [b, a + b];
    }
  };
  return { int, fibonacci };
}

function fields(segment, layout, into) {
  const r = reader(segment);
  for (const field of layout.split(" ")) {
    const [name, count] = field.split("*");
    const [key, width] = name.split(":");
    if (count) {
      into[key] = [];
      for (let i = 0; i < +count; i++) into[key].push(r.int(2));
    } else into[key] = width === "1" ? !!r.int(1) : r.int(+width || 2);
  }
  return into;
}

// {sectionIds: [7, 8], sections: {usnat: {Version: 2, ...}, usca: {...}}}; throws on a damaged string.
export function decode(string) {
  const parts = string.split("~");
  const header = reader(parts[0]);
  if (header.int(6) !== 3 || header.int(6) !== 1) throw new Error("not a GPP v1 header");
  const sectionIds = [];
  let last = 0;
  for (let runs = header.int(12); runs > 0; runs--) {
    const range = header.int(1), first = last + header.fibonacci();
    last = range ? first + header.fibonacci() : first;
    for (let id = first; id <= last; id++) sectionIds.push(id);
  }
  if (sectionIds.length !== parts.length - 1) throw new Error("the header does not list the sections there are");
  const sections = {};
  sectionIds.forEach((id, i) => {
    const layout = LAYOUTS[id];
    if (!layout) return;  // not one of ours: listed, not read
    const [core, second] = parts[i + 1].split(".");
    const section = fields(core, layout[1], {});
    const tail = layout[2] === 1 ? GPC : layout[2];
    if (tail) {
      fields(second || "AAAA", tail, section);  // absent: every field 0 ...
      if (!second && tail === GPC) section.GpcSegmentType = 1;  // ... but the GPC segment's type, 1
    }
    sections[layout[0]] = section;
  });
  return { sectionIds, sections };
}

// The answer to hasSection, getSection or getField for a decoded string (null: none; the API passes it on).
export function query(decoded, command, parameter) {
  const [name, field] = String(parameter).split(".");
  const section = decoded.sections[name];
  if (command === "hasSection") return !!section;
  if (!section) return null;
  if (command === "getSection") return field ? null : JSON.parse(JSON.stringify(section));  // a copy: ours stays ours
  return field in section ? JSON.parse(JSON.stringify(section[field])) : null;  // getField
}
