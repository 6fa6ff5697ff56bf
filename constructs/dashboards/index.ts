export { AgentDashboardOptions, agentDashboard, agentDashboards, dashboardQueries, dashboardUid } from './agent-dashboard';
export type { Dashboard } from './sdk';
