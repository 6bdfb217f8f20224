import VMI

/// The VMI operations, typed.
extension VeemClient {
    /// SubmitVEEs: defines all the VEEs (placed and defined on their hosts, not running), or none.
    public func submit(_ vees: [VEESpec]) async throws -> [VEEView] {
        try await request(SubmitVEEs(vees: vees), expecting: VEEsAccepted.self).vees
    }

    /// InitializeVEE: defines one VEE.
    public func initialize(_ vee: VEESpec) async throws -> VEEView {
        try await request(InitializeVEE(vee: vee), expecting: VEEsAccepted.self).vees[0]
    }

    /// VEEUpdate: asks for a new control state; returns the VEE with its new desired state.
    public func update(_ vee: String, _ action: VEEAction) async throws -> VEEView {
        try await request(VEEUpdate(vee: vee, action: action), expecting: VEEsAccepted.self).vees[0]
    }

    public func site() async throws -> SiteReport {
        try await request(SiteMonitoringInformation(), expecting: SiteReport.self)
    }

    public func monitoring(_ vee: String? = nil) async throws -> [VEEMonitoring] {
        try await request(MonitoringInformation(vee: vee), expecting: MonitoringReport.self).vees
    }

    /// SubmitService: validates and deploys a manifest (YAML or JSON text).
    public func submitService(manifest: String) async throws -> ServiceView {
        try await request(SubmitService(manifest: manifest), expecting: ServiceReport.self).services[0]
    }

    public func services(_ name: String? = nil) async throws -> [ServiceView] {
        try await request(ServiceInformation(service: name), expecting: ServiceReport.self).services
    }

    public func scale(service: String, component: String, replicas: Int) async throws -> ServiceView {
        try await request(ScaleService(service: service, component: component, replicas: replicas),
                          expecting: ServiceReport.self).services[0]
    }

    public func undeploy(service: String) async throws -> ServiceView {
        try await request(UndeployService(service: service), expecting: ServiceReport.self).services[0]
    }

    /// PutMonitoringInformation: pushes KPIs for a VEE.
    public func put(kpis: [String: Double], for vee: String) async throws {
        _ = try await request(PutMonitoringInformation(vee: vee, kpis: kpis), expecting: MonitoringReport.self)
    }
}

extension VeemClient {
    /// Creates (or imports) an EC2 account; the reply carries its secret, shown this once.
    public func createAccount(_ request: CreateAccount) async throws -> AccountView {
        let report = try await self.request(request, expecting: AccountReport.self)
        guard let account = report.accounts.first else { throw VeemClientError.refused([]) }
        return account
    }

    public func accounts() async throws -> [AccountView] {
        try await request(AccountInformation(), expecting: AccountReport.self).accounts
    }
}
