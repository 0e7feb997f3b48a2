// Runs one execution of an Amazon States Language definition in aws-local-stepfunctions (a second
// ASL interpreter, independent of moto's), with its Task states served by the local stand-in:
//
// - a Lambda Task (Resource `arn:aws:lambda:…:function:<name>`) POSTs its effective input to
//   `cargo lambda watch` (`<lambdaEndpoint>/2015-03-31/functions/<name>/invocations`), so the REAL
//   function binaries answer. watch's HTTP 500 `{errorType, errorMessage}` becomes a thrown error
//   whose `name` is `errorType` (what Retry/Catch match) and whose message, the Cause, is the
//   payload as a JSON string, as AWS reports a function error.
// - an `arn:aws:states:::sns:publish` Task calls SNS Publish (Query API, SigV4-signed with dummy
//   credentials) on `snsEndpoint` (moto), so the message really arrives at the topic.
// - an `arn:aws:states:::states:startExecution.sync:2` Task runs the child definition named by its
//   StateMachineArn (`children`) in this interpreter too, its Tasks served the same way, and
//   answers as AWS does for `.sync:2`: {ExecutionArn, StateMachineArn, Status, Input, Output} with
//   Input and Output as JSON; a child that fails is the error States.TaskFailed whose Cause is that
//   answer as a JSON string, with Status FAILED, Error and Cause.
//
// Input (stdin, or the file named by the first argument), one JSON object:
//   definition       the ASL document (object or string), DefinitionSubstitutions already replaced
//   input            the execution input (any JSON value)
//   lambdaEndpoint   cargo lambda watch's URL
//   snsEndpoint      moto's URL
//   region           for the signature (default ap-northeast-2)
//   retryIntervalMs  pause before every retry, in ms (default 0), instead of IntervalSeconds ×
//                    BackoffRate (the package's retryIntervalOverrides)
//   faults           {"<function name>": [fault, …]}: the next invocations of that function, one
//                    fault each, in order. A fault is an error type (string: the invocation fails
//                    with it before reaching the function, as a transient fault would), or
//                    {"hang": true} (the invocation never answers: the Task's TimeoutSeconds fires).
//   httpTimeoutMs    limit of one HTTP call (default 900000: a function's first invocation compiles it)
//   deadlineMs       limit of the whole execution (default 600000); then it is aborted
//   children         {"<state machine ARN>": definition}: what a startExecution.sync:2 Task runs
//
// Output (stdout), one JSON object:
//   status       SUCCEEDED | FAILED | ABORTED
//   output       the execution's output (SUCCEEDED)
//   error, cause the execution's error and cause (FAILED)
//   states       the names of the states entered, in order (the package's StateEntered events)
//   events       every event, compacted: {type, state?, error?, cause?, attempt?}
//   invocations  {"<function name>": n}: Lambda invocations asked for, faulted ones included
//   published    the SNS messages published: [{topicArn, subject, message, messageId}]
//   children     the child executions, in the order they ended: [{executionArn, stateMachineArn,
//                status, states}]
//
// The package declares Node >= 22 for Promise.withResolvers alone; the polyfill below lets it run
// on Node 20. It must be defined before the package loads, hence the dynamic import.
import { createHash, createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'

if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
const { StateMachine } = await import('aws-local-stepfunctions')

const SNS_PUBLISH = 'arn:aws:states:::sns:publish'
const START_EXECUTION_SYNC2 = 'arn:aws:states:::states:startExecution.sync:2'
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' }

class TaskError extends Error {
  constructor (name, cause) {
    super(cause)
    this.name = name
  }
}

async function readRequest () {
  if (process.argv[2]) return JSON.parse(readFileSync(process.argv[2], 'utf8'))
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex')
const hmac = (key, data) => createHmac('sha256', key).update(data).digest()

/** SigV4 headers for a POST with an empty query string. */
function signedHeaders (url, body, region, service, headers) {
  const { host, pathname } = new URL(url)
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '')
  const day = amzDate.slice(0, 8)
  const all = { ...headers, host, 'x-amz-date': amzDate, 'x-amz-content-sha256': sha256(body) }
  const names = Object.keys(all).map((k) => k.toLowerCase()).sort()
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim()]))
  const canonical = ['POST', pathname || '/', '', names.map((n) => `${n}:${lower[n]}\n`).join(''), names.join(';'), lower['x-amz-content-sha256']].join('\n')
  const scope = `${day}/${region}/${service}/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')
  let key = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, day)
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part)
  const signature = createHmac('sha256', key).update(toSign).digest('hex')
  delete all.host // fetch sets it
  all.authorization = `AWS4-HMAC-SHA256 Credential=${CREDENTIALS.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`
  return all
}

/** POST; a network failure or our own time limit becomes `networkError` (a Retry/Catch name). */
async function post (url, body, headers, timeoutMs, networkError) {
  try {
    const response = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) })
    return { status: response.status, text: await response.text() }
  } catch (err) {
    throw new TaskError(networkError, JSON.stringify({ errorType: networkError, errorMessage: `${url}: ${err && err.message}` }))
  }
}

function lambdaHandler (functionName, req, tally) {
  return async (input) => {
    tally.invocations[functionName] = (tally.invocations[functionName] || 0) + 1
    const pending = req.faults?.[functionName]
    const fault = pending && pending.length ? pending.shift() : null
    if (fault && typeof fault === 'object' && fault.hang) return new Promise(() => {})
    if (typeof fault === 'string') {
      throw new TaskError(fault, JSON.stringify({ errorType: fault, errorMessage: `injected ${fault}` }))
    }
    const url = `${req.lambdaEndpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`
    const { status, text } = await post(url, JSON.stringify(input), { 'content-type': 'application/json' }, req.httpTimeoutMs ?? 900000, 'Lambda.SdkClientException')
    let answer
    try {
      answer = text ? JSON.parse(text) : null
    } catch {
      throw new TaskError('Lambda.ServiceException', JSON.stringify({ errorType: 'Lambda.ServiceException', errorMessage: `HTTP ${status}: ${text.slice(0, 500)}` }))
    }
    const isFunctionError = answer && typeof answer === 'object' && !Array.isArray(answer) && typeof answer.errorType === 'string'
    if (status >= 400 || (isFunctionError && 'errorMessage' in answer)) {
      if (isFunctionError) throw new TaskError(answer.errorType, text)
      throw new TaskError('Lambda.ServiceException', JSON.stringify({ errorType: 'Lambda.ServiceException', errorMessage: `HTTP ${status}: ${text.slice(0, 500)}` }))
    }
    return answer
  }
}

function snsPublishHandler (req, tally) {
  return async (params) => {
    const form = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31' })
    for (const key of ['TopicArn', 'TargetArn', 'PhoneNumber', 'Subject', 'Message', 'MessageStructure', 'MessageGroupId', 'MessageDeduplicationId']) {
      if (params[key] === undefined) continue
      form.set(key, typeof params[key] === 'string' ? params[key] : JSON.stringify(params[key]))
    }
    const body = form.toString()
    const headers = signedHeaders(req.snsEndpoint, body, req.region || 'ap-northeast-2', 'sns', { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' })
    const { status, text } = await post(req.snsEndpoint, body, headers, req.httpTimeoutMs ?? 900000, 'SNS.SdkClientException')
    if (status >= 400) {
      const code = (/<Code>([^<]*)<\/Code>/.exec(text) || [])[1] || `HTTP${status}`
      const message = (/<Message>([^<]*)<\/Message>/.exec(text) || [])[1] || text.slice(0, 500)
      throw new TaskError(`SNS.${code.endsWith('Exception') ? code : `${code}Exception`}`, message)
    }
    const messageId = (/<MessageId>([^<]*)<\/MessageId>/.exec(text) || [])[1]
    tally.published.push({ topicArn: params.TopicArn, subject: params.Subject, message: params.Message, messageId })
    return { MessageId: messageId }
  }
}

/** Runs the child definition a startExecution.sync:2 Task names, as AWS would answer it. */
function startExecutionHandler (req, tally) {
  return async (params) => {
    const arn = params.StateMachineArn
    const definition = req.children?.[arn]
    if (!definition) {
      throw new TaskError('StepFunctions.StateMachineDoesNotExistException', `State Machine Does Not Exist: '${arn}'`)
    }
    tally.started = (tally.started || 0) + 1
    const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:child-${tally.started}`
    const input = typeof params.Input === 'string' ? JSON.parse(params.Input) : (params.Input ?? {})
    const child = new StateMachine(definition)
    const execution = child.run(input, {
      overrides: { taskResourceLocalHandlers: handlersFor(definition, req, tally), retryIntervalOverrides: retryIntervalsFor(definition, req) }
    })
    const states = []
    const logged = (async () => { for await (const event of execution.eventLogs) if (event.type === 'StateEntered') states.push(event.state.name) })()
    const answer = { ExecutionArn: executionArn, StateMachineArn: arn, Input: input }
    try {
      answer.Output = await execution.result
      answer.Status = 'SUCCEEDED'
    } catch (err) {
      if (!(err && err.name === 'ExecutionError' && err.cause)) throw err
      answer.Status = 'FAILED'
      answer.Error = err.cause.name
      answer.Cause = err.cause.message
    }
    await logged
    tally.children.push({ executionArn, stateMachineArn: arn, status: answer.Status, states })
    if (answer.Status !== 'SUCCEEDED') throw new TaskError('States.TaskFailed', JSON.stringify(answer))
    return answer
  }
}

/** The Task handlers of a definition, by state name. */
function handlersFor (definition, req, tally) {
  const handlers = {}
  for (const [name, state] of allStates(definition)) {
    if (state.Type !== 'Task') continue
    if (state.Resource === SNS_PUBLISH) {
      handlers[name] = snsPublishHandler(req, tally)
    } else if (state.Resource === START_EXECUTION_SYNC2) {
      handlers[name] = startExecutionHandler(req, tally)
    } else if (/^arn:aws[\w-]*:lambda:[^:]*:\d+:function:/.test(state.Resource)) {
      handlers[name] = lambdaHandler(state.Resource.split(':function:')[1].split(':')[0], req, tally)
    } else {
      throw new Error(`state ${name}: no local service for Resource ${state.Resource}`)
    }
  }
  return handlers
}

/** The pause before every retry of a definition's states (the package's retryIntervalOverrides). */
function retryIntervalsFor (definition, req) {
  const intervals = {}
  for (const [name, state] of allStates(definition)) {
    if (state.Retry) intervals[name] = req.retryIntervalMs ?? 0
  }
  return intervals
}

/** Every state of the definition, nested Parallel branches and Map processors included. */
function * allStates (machine) {
  for (const [name, state] of Object.entries(machine.States || {})) {
    yield [name, state]
    for (const branch of state.Branches || []) yield * allStates(branch)
    if (state.ItemProcessor || state.Iterator) yield * allStates(state.ItemProcessor || state.Iterator)
  }
}

function compact (event) {
  const out = { type: event.type }
  if (event.state) out.state = event.state.name
  if (event.Error !== undefined) out.error = event.Error
  if (event.Cause !== undefined) out.cause = typeof event.Cause === 'string' ? event.Cause : String(event.Cause?.message ?? event.Cause)
  if (event.retry) out.attempt = event.retry.attempt
  return out
}

async function main () {
  const req = await readRequest()
  const definition = typeof req.definition === 'string' ? JSON.parse(req.definition) : req.definition
  const tally = { invocations: {}, published: [], children: [] }
  const machine = new StateMachine(definition)
  const execution = machine.run(req.input, {
    overrides: { taskResourceLocalHandlers: handlersFor(definition, req, tally), retryIntervalOverrides: retryIntervalsFor(definition, req) }
  })
  const events = []
  const logged = (async () => { for await (const event of execution.eventLogs) events.push(event) })()
  const deadline = setTimeout(() => execution.abort(), req.deadlineMs ?? 600000)

  const result = { status: 'SUCCEEDED' }
  try {
    result.output = await execution.result
  } catch (err) {
    if (err && err.name === 'ExecutionAbortedError') {
      result.status = 'ABORTED'
      result.error = 'ExecutionAborted'
      result.cause = `the execution did not finish within ${req.deadlineMs ?? 600000} ms`
    } else if (err && err.name === 'ExecutionError' && err.cause) {
      result.status = 'FAILED'
      result.error = err.cause.name
      result.cause = err.cause.message
    } else {
      throw err
    }
  } finally {
    clearTimeout(deadline)
  }
  await logged
  result.states = events.filter((e) => e.type === 'StateEntered').map((e) => e.state.name)
  result.events = events.map(compact)
  result.invocations = tally.invocations
  result.published = tally.published
  result.children = tally.children
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main().then(
  // A Task that timed out may leave its invocation running (as in AWS); nothing waits for it.
  // stdout to a pipe is written asynchronously: exiting at once would cut the result off at 64 KB,
  // so the exit waits until everything written before it is out.
  () => process.stdout.write('', () => process.exit(0)),
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`)
    process.exit(2)
  }
)
