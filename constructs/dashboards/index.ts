export { agentDashboard, agentDashboards, dashboardQueries, dashboardUid } from './agent-dashboard';
export type { AgentDashboardOptions, Dashboard, DashboardPanel } from './agent-dashboard';
