//! ES-module entry of onshi.js: `import { Onshi } from "./onshi.esm.js"`.
//! onshi.js is written to run as a classic script and as a module; importing it
//! for its side effect defines `globalThis.Onshi`, re-exported here.
import "./onshi.js";

export const Onshi = globalThis.Onshi;
export default Onshi;
