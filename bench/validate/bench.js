// JSON.parse plus an ajv-compiled JSON Schema of an ActivityEvent/Completed,
// run on the same files as the Go benchmarks in caliper/bench_test.go.
// The schema checks types, required members, enums, formats, ranges and
// unknown properties; it cannot express the cross-field rules (question
// pairs, correct <= total, each metric once, no duplicate JSON keys).
"use strict";
const fs = require("fs");
const path = require("path");
const Ajv = require("ajv");
const addFormats = require("ajv-formats");

const testdata = path.join(__dirname, "..", "..", "testdata");
const event = fs.readFileSync(path.join(testdata, "activity_completed.json"));
const envelope = fs.readFileSync(path.join(testdata, "envelope100.json"));

const iri = { type: "string", format: "uri" };
const schema = {
  type: "object",
  additionalProperties: false,
  required: ["@context", "id", "type", "action", "profile", "eventTime", "actor", "object", "generated"],
  properties: {
    "@context": { const: "http://purl.imsglobal.org/ctx/caliper/v1p2" },
    id: { type: "string", pattern: "^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" },
    type: { const: "ActivityEvent" },
    action: { const: "Completed" },
    profile: { const: "TimebackProfile" },
    eventTime: { type: "string", format: "date-time" },
    edApp: iri,
    actor: {
      type: "object", additionalProperties: false, required: ["id", "type", "email"],
      properties: { id: iri, type: { const: "TimebackUser" }, email: { type: "string", format: "email" } },
    },
    object: {
      type: "object", additionalProperties: false, required: ["id", "type", "subject", "app"],
      properties: {
        id: iri, type: { const: "TimebackActivityContext" },
        subject: { enum: ["Math", "Reading", "Language", "Vocabulary", "Writing", "Science", "Social Studies", "FastMath", "None", "Other"] },
        app: { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1 }, id: iri } },
        course: { type: "object", required: ["name"], properties: { name: { type: "string" }, id: iri } },
        activity: { type: "object", required: ["name"], properties: { name: { type: "string" }, id: iri } },
      },
    },
    generated: {
      type: "object", additionalProperties: false, required: ["id", "type", "items"],
      properties: {
        id: iri, type: { const: "TimebackActivityMetricsCollection" },
        items: {
          type: "array", minItems: 1,
          contains: { type: "object", properties: { type: { const: "xpEarned" } } },
          items: {
            type: "object", additionalProperties: false, required: ["type", "value"],
            properties: {
              type: { enum: ["xpEarned", "totalQuestions", "correctQuestions", "masteredUnits"] },
              value: { type: "number", minimum: 0 },
            },
          },
        },
        extensions: { type: "object", properties: { pctCompleteApp: { type: "number", minimum: 0, maximum: 100 } } },
      },
    },
    extensions: { type: "object", properties: { runId: { type: "string" }, courseId: { type: "string" } } },
  },
};
const envelopeSchema = {
  type: "object", additionalProperties: false, required: ["sensor", "sendTime", "dataVersion", "data"],
  properties: {
    sensor: iri, sendTime: { type: "string", format: "date-time" },
    dataVersion: { const: "http://purl.imsglobal.org/ctx/caliper/v1p2" },
    data: { type: "array", minItems: 1, items: schema },
  },
};

const ajv = new Ajv({ allErrors: true });
addFormats(ajv);
const validateEvent = ajv.compile(schema);
const validateEnvelope = ajv.compile(envelopeSchema);

function bench(name, fn, events) {
  for (let i = 0; i < 2000; i++) fn(); // warm up the JIT
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < 2_000_000_000n) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    elapsed = process.hrtime.bigint() - start;
  }
  const nsPerOp = Number(elapsed) / n;
  console.log(`${name}\t${n}\t${nsPerOp.toFixed(0)} ns/op\t${(nsPerOp / events).toFixed(0)} ns/event`);
}

bench("JSONParseAjvEvent", () => {
  if (!validateEvent(JSON.parse(event))) throw new Error(JSON.stringify(validateEvent.errors));
}, 1);
bench("JSONParseAjvEnvelope100", () => {
  if (!validateEnvelope(JSON.parse(envelope))) throw new Error(JSON.stringify(validateEnvelope.errors));
}, 100);
