// Evaluates IAM requests with @cloud-copilot/iam-simulate (a maintained IAM policy evaluator:
// condition operators, resource-type checks of the ARN against the action, context-key types).
//
// Input (stdin): a JSON array of {id, simulation}, each `simulation` as iam-simulate's
// `runSimulation` takes it. Output (stdout): a JSON array of {id, result, errors}, where `result`
// is 'Allowed', 'ExplicitlyDenied', 'ImplicitlyDenied' or 'Error', and `errors` the evaluator's
// validation errors (an unknown action, an ARN that is not a resource of the action, a context
// key the action does not take). A request whose principal is "ANONYMOUS" is an unsigned one
// (iam-simulate's anonymousPrincipal). Used by tests/iam_eval.py.
import { anonymousPrincipal, runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const out = []
for (const { id, simulation } of requests) {
  try {
    if (simulation.request.principal === 'ANONYMOUS') simulation.request.principal = anonymousPrincipal
    const response = await runSimulation(simulation, {})
    if (response.resultType === 'error') {
      out.push({ id, result: 'Error', errors: response.errors })
    } else {
      out.push({ id, result: response.overallResult, errors: null })
    }
  } catch (err) {
    out.push({ id, result: 'Error', errors: { message: String(err && err.stack || err) } })
  }
}
process.stdout.write(JSON.stringify(out))
