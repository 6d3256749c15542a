// The IAB's own GPP library (@iabgpp/cmpapi) checks the strings the platform makes
// (tests/unit/test_gpp_iab.py). Reads on stdin a JSON array of {string, sections}; writes a JSON array with,
// for each: `decoded`, the section ids the header lists and every field of every section as the library
// decodes `string`; and `encoded`, the string the library itself makes from `sections` (section name ->
// field -> value). Either is {error} when the library refuses.
import { GppModel } from "@iabgpp/cmpapi";

function decode(string) {
  try {
    const model = new GppModel(string);
    return { sectionIds: model.getSectionIds(), sections: model.toObject() };
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
}

function encode(sections) {
  try {
    const model = new GppModel();
    for (const [name, fields] of Object.entries(sections)) {
      for (const [field, value] of Object.entries(fields)) {
        if (field !== "GpcSegmentType") model.setFieldValue(name, field, value);
      }
      if ("Gpc" in fields) model.setFieldValue(name, "GpcSegmentIncluded", true);
    }
    return { string: model.encode() };
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
const answers = JSON.parse(input).map(({ string, sections }) => ({ decoded: decode(string), encoded: encode(sections) }));
process.stdout.write(JSON.stringify(answers));
