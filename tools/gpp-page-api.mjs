// The banner's GPP decoder (banner_static/src/gpp-decode.js, what the page API's getSection and getField
// answer) against the IAB's library (tests/unit/test_gpp_page_api.py). Reads on stdin a JSON array of GPP
// strings; writes, for each, {iab, ours}: the section ids, every section (getSection) and every field
// (getField, "<section>.<field>", plus one the section does not have) as each decoder reads them, or {error}.
import { GppModel } from "@iabgpp/cmpapi";
import { decode, query } from "../banner_static/src/gpp-decode.js";

function read(string, ids, getSection, getField) {
  try {
    const sectionIds = ids();
    const sections = {}, fields = {};
    for (const [name, object] of Object.entries(new GppModel(string).toObject())) {
      sections[name] = getSection(name);
      for (const field of [...Object.keys(object), "NoSuchField"]) fields[`${name}.${field}`] = getField(name, field);
    }
    return { sectionIds, sections, fields };
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
}

function both(string) {
  const model = new GppModel(string);
  const iab = read(string, () => model.getSectionIds(), name => model.getSection(name),
                   (name, field) => model.hasField(name, field) ? model.getFieldValue(name, field) : null);
  let ours;
  try {
    const decoded = decode(string);
    ours = read(string, () => decoded.sectionIds, name => query(decoded, "getSection", name),
                (name, field) => query(decoded, "getField", `${name}.${field}`));
  } catch (error) {
    ours = { error: String(error?.message ?? error) };
  }
  return { iab, ours };
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
process.stdout.write(JSON.stringify(JSON.parse(input).map(both)));
