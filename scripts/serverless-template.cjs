/**
 * A local osls plugin for what serverless.yml cannot say itself, because osls names the resource at random
 * (the API's Deployment is `ApiGatewayDeployment<timestamp>`, new on every package) or writes it once per
 * function. It runs when the template is complete, just before it is saved:
 *  - the Deployment waits for the GatewayResponses, so that the first deploy already answers with them;
 *  - the stage is serverless.yml's `ApiStage` (with its throttling), pointed at this Deployment, instead of
 *    the bare stage a Deployment with a StageName creates (a stage that CloudFormation cannot then change);
 *  - the role's EFS statements that osls adds for every function, naming the access point as their resource
 *    (those actions apply to the file system), are dropped: serverless.yml grants them once, on the file
 *    system, for that access point only.
 */
const EFS_ACTIONS = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"];
const STAGE = "ApiStage";

const ofType = (resources, type) => Object.keys(resources).filter((id) => resources[id].Type === type);

function pointStageAtDeployment(resources) {
  const [deployment] = ofType(resources, "AWS::ApiGateway::Deployment");
  if (deployment === undefined || resources[STAGE] === undefined) return;
  const responses = ofType(resources, "AWS::ApiGateway::GatewayResponse");
  resources[deployment].DependsOn = [...new Set([...(resources[deployment].DependsOn ?? []), ...responses])];
  delete resources[deployment].Properties.StageName;
  resources[STAGE].Properties.DeploymentId = { Ref: deployment };
}

// osls's own statement: exactly these two actions on one resource, with no condition
const isPerFunctionEfsStatement = (statement) =>
  statement.Condition === undefined &&
  JSON.stringify(statement.Action) === JSON.stringify(EFS_ACTIONS) &&
  Array.isArray(statement.Resource) &&
  statement.Resource.length === 1;

function dropPerFunctionEfsStatements(resources) {
  for (const id of ofType(resources, "AWS::IAM::Role")) {
    for (const policy of resources[id].Properties.Policies ?? []) {
      const document = policy.PolicyDocument;
      document.Statement = document.Statement.filter((statement) => !isPerFunctionEfsStatement(statement));
    }
  }
}

class TemplatePlugin {
  constructor(serverless) {
    this.hooks = {
      "before:aws:package:finalize:saveServiceState": () => {
        const { Resources } = serverless.service.provider.compiledCloudFormationTemplate;
        pointStageAtDeployment(Resources);
        dropPerFunctionEfsStatements(Resources);
      },
    };
  }
}

module.exports = TemplatePlugin;
