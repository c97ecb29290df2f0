"""Build the committed ``data/`` snapshot from the cited reference files.

Run by a maintainer, never at pipeline run time::

    python scripts/build_snapshot.py ../shared/reference-data data
    python scripts/build_snapshot.py --entities-only data     # the entity registry, identifiers and aliases

Every output row keeps the provenance of the reference row it came from (``source``,
``source_url``, ``source_date``, ``confidence``, ``notes``) plus ``ref_file`` and ``ref_row``
(1-based data row in the reference file). Numbers are copied, never rounded, filled or
invented; an empty cell stays empty (unknown). What this script adds is classification
only: entity ids through the alias table, market ids, normalised periods, and the basis of
a dollar figure (``ceiling`` for "up to"/letter-of-intent values, ``lower_bound`` for
"more than" values), each traceable to the words of the reference row.
"""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

# --------------------------------------------------------------------------- entities
# entity_id, name, kind, layers, parent_id, country, notes
ENTITIES = [
    ("amazon", "Amazon.com Inc.", "firm", "investor", "", "US", "Group parent of AWS; investor in Anthropic and OpenAI"),
    ("aws", "Amazon Web Services", "firm", "cloud;accelerator", "amazon", "US", "Cloud provider; designs Trainium and Inferentia accelerators"),
    ("microsoft", "Microsoft Corp.", "firm", "investor", "", "US", "Group parent of Azure; investor in OpenAI, Anthropic, Mistral AI, G42"),
    ("microsoft-azure", "Microsoft Azure", "firm", "cloud", "microsoft", "US", "Analysts report the Microsoft cloud as one provider"),
    ("alphabet", "Alphabet Inc.", "firm", "investor", "", "US", "Group parent of Google Cloud and Google DeepMind; investor in Anthropic"),
    ("google-cloud", "Google Cloud", "firm", "cloud;accelerator", "alphabet", "US", "Cloud provider; TPUs are Alphabet's in-house accelerators sold through Google Cloud"),
    ("google-deepmind", "Google DeepMind", "firm", "model", "alphabet", "US", "Gemini models"),
    ("meta", "Meta Platforms Inc.", "firm", "model;investor", "", "US", "Llama models; compute buyer; investor in Scale AI"),
    ("oracle", "Oracle Corp.", "firm", "cloud;investor", "", "US", "OCI; equity funder of Stargate LLC"),
    ("alibaba", "Alibaba Cloud", "firm", "cloud", "", "CN", ""),
    ("huawei", "Huawei Cloud", "firm", "cloud", "", "CN", ""),
    ("tencent", "Tencent Cloud", "firm", "cloud", "", "CN", ""),
    ("ibm", "IBM", "firm", "cloud", "", "US", ""),
    ("salesforce", "Salesforce", "firm", "cloud", "", "US", ""),
    ("coreweave", "CoreWeave Inc.", "firm", "cloud", "", "US", "GPU cloud (neocloud)"),
    ("nebius", "Nebius Group", "firm", "cloud", "", "NL", "GPU cloud (neocloud)"),
    ("iren", "IREN Ltd.", "firm", "cloud", "", "AU", "GPU cloud (neocloud)"),
    ("lambda", "Lambda Inc.", "firm", "cloud", "", "US", "GPU cloud (neocloud)"),
    ("fluidstack", "Fluidstack", "firm", "cloud", "", "GB", "GPU cloud (neocloud)"),
    ("stargate", "Stargate LLC", "joint venture", "cloud", "", "US", "Data-centre joint venture of SoftBank, OpenAI, Oracle and MGX"),
    ("g42", "G42", "firm", "model;cloud", "", "AE", ""),
    ("nvidia", "Nvidia Corp.", "firm", "accelerator;investor", "", "US", ""),
    ("amd", "Advanced Micro Devices Inc.", "firm", "accelerator", "", "US", ""),
    ("intel", "Intel Corp.", "firm", "accelerator", "", "US", ""),
    ("broadcom", "Broadcom Inc.", "firm", "accelerator", "", "US", "Custom accelerators (XPUs)"),
    ("cerebras", "Cerebras Systems", "firm", "accelerator;cloud", "", "US", ""),
    ("groq", "Groq Inc.", "firm", "accelerator", "", "US", ""),
    ("asml", "ASML Holding", "firm", "investor", "", "NL", "Chip-equipment maker; largest Mistral AI shareholder"),
    ("openai", "OpenAI", "firm", "model;investor", "", "US", "OpenAI Group PBC (earlier OpenAI LP); investor in CoreWeave; AMD warrant holder"),
    ("openai-foundation", "OpenAI Foundation", "foundation", "investor", "", "US", "Non-profit that appoints the board of OpenAI Group PBC"),
    ("anthropic", "Anthropic PBC", "firm", "model", "", "US", ""),
    ("anthropic-ltbt", "Anthropic Long-Term Benefit Trust", "foundation", "investor", "", "US", "Holds Class T stock electing Anthropic directors"),
    ("xai", "xAI", "firm", "model", "", "US", ""),
    ("mistral", "Mistral AI", "firm", "model", "", "FR", ""),
    ("inflection", "Inflection AI", "firm", "model", "", "US", ""),
    ("adept", "Adept AI", "firm", "model", "", "US", ""),
    ("character-ai", "Character.AI", "firm", "model", "", "US", ""),
    ("scale-ai", "Scale AI", "firm", "model", "", "US", "Data-labelling supplier to model builders"),
    ("softbank", "SoftBank Group", "firm", "investor", "", "JP", ""),
    ("us-government", "US government", "government", "investor", "", "US", ""),
    ("vanguard", "Vanguard Group", "fund manager", "investor", "", "US", ""),
    ("blackrock", "BlackRock", "fund manager", "investor", "", "US", ""),
    ("state-street", "State Street", "fund manager", "investor", "", "US", ""),
    ("fidelity", "FMR LLC (Fidelity)", "fund manager", "investor", "", "US", ""),
    ("geode", "Geode Capital Management", "fund manager", "investor", "", "US", ""),
    ("capital-group", "Capital Group", "fund manager", "investor", "", "US", "Capital Research & Management and Capital World Investors"),
    ("magnetar", "Magnetar Capital", "fund manager", "investor", "", "US", ""),
    ("institutions-aggregate", "Institutions (aggregate)", "aggregate", "investor", "", "", "Sum of institutional holders as reported; not one owner"),
    ("insiders-aggregate", "Insiders (aggregate)", "aggregate", "investor", "", "", "Officers and directors combined as reported; not one owner"),
    ("steve-ballmer", "Steve Ballmer", "person", "investor", "", "US", ""),
    ("bill-gates", "Bill Gates", "person", "investor", "", "US", ""),
    ("jensen-huang", "Jensen Huang", "person", "investor", "", "US", ""),
    ("larry-page", "Larry Page", "person", "investor", "", "US", ""),
    ("sergey-brin", "Sergey Brin", "person", "investor", "", "US", ""),
    ("page-brin", "Larry Page and Sergey Brin (combined)", "aggregate", "investor", "", "US", "Combined holding as reported"),
    ("eric-schmidt", "Eric Schmidt", "person", "investor", "", "US", ""),
    ("jeff-bezos", "Jeff Bezos", "person", "investor", "", "US", ""),
    ("mark-zuckerberg", "Mark Zuckerberg", "person", "investor", "", "US", ""),
    ("larry-ellison", "Larry Ellison", "person", "investor", "", "US", ""),
    ("lisa-su", "Lisa Su", "person", "investor", "", "US", ""),
    ("michael-intrator", "Michael Intrator", "person", "investor", "", "US", ""),
    ("coreweave-founders", "CoreWeave co-founders (combined)", "aggregate", "investor", "", "US", "Intrator, Venturo and McBee combined as reported"),
    # December 2026 update (reference README, "December 2026 update")
    ("marvell", "Marvell Technology Inc.", "firm", "accelerator", "", "US", "Custom accelerator (XPU) design partner of AWS, Microsoft and Google; rival to Broadcom"),
    ("baidu", "Baidu Inc.", "firm", "accelerator;model", "", "CN", "Kunlunxin AI accelerators"),
    ("cambricon", "Cambricon Technologies", "firm", "accelerator", "", "CN", "AI accelerators"),
    ("deepseek", "DeepSeek", "firm", "model", "", "CN", "Open-weight models; DeepSeek chatbot"),
    ("perplexity", "Perplexity AI", "firm", "model", "", "US", "AI answer engine / chatbot"),
    ("nscale", "Nscale", "firm", "cloud", "", "GB", "GPU cloud (neocloud)"),
    ("akamai", "Akamai Technologies", "firm", "cloud", "", "US", "Cloud and edge provider"),
    ("spacex", "SpaceX (Space Exploration Technologies Corp.)", "firm", "cloud;investor", "", "US",
     "Acquired xAI in an all-stock deal announced 2026-02-02 (investments.csv); leases xAI data-centre capacity to Anthropic and Google"),
    # a sector-wide market study that names no firm (regulatory_events.csv): scrutiny of no one firm
    ("sector-generative-ai", "Generative-AI sector (sector-wide study)", "aggregate", "model;cloud;accelerator", "", "",
     "Party of sector-wide market studies that name no firm"),
    # funding rounds reported as totals: the round's investors together, never one owner
    ("xai-series-e-investors", "xAI Series E investors (round total, 2026-01)", "aggregate", "investor", "", "",
     "Valor, StepStone, Fidelity, QIA, MGX, Baron; strategic: Nvidia, Cisco Investments (as reported)"),
    ("anthropic-series-g-investors", "Anthropic Series G investors (round total, 2026-02)", "aggregate", "investor", "", "",
     "GIC and Coatue (leads); D. E. Shaw Ventures, Founders Fund, ICONIQ, MGX; includes earlier Microsoft and Nvidia commitments"),
    ("anthropic-series-h-investors", "Anthropic Series H investors (round total, 2026-05)", "aggregate", "investor", "", "",
     "Altimeter, Dragoneer, Greenoaks, Sequoia (leads)"),
    ("openai-2026-round-investors", "OpenAI 2026 round investors (round total, 2026-03)", "aggregate", "investor", "", "",
     "Amazon, Nvidia, SoftBank and co-leads; overlaps the 2026-02-27 Amazon/Nvidia/SoftBank rows: never sum them"),
]

# SEC identifiers (../shared/notes/living-sources.md section 0, "Useful CIKs and CUSIPs"): a CIK
# is `verified` where that table marks it as checked in recorded data, else `unverified` (check it
# on the first live fetch); every CUSIP listed there was checked in the recorded 13F information
# tables (all listed classes: Alphabet's class A and class C). No LEI was found in a recorded file
# (Microsoft's submissions JSON has "lei": null), so the column stays empty. Empty = unknown.
# entity_id: (cik, cik_status, cusips, cusips_status, lei)
IDENTIFIERS = {
    "nvidia": ("1045810", "verified", "67066G104", "verified", ""),
    "microsoft": ("789019", "verified", "594918104", "verified", ""),
    "amazon": ("1018724", "unverified", "023135106", "verified", ""),
    "alphabet": ("1652044", "verified", "02079K305;02079K107", "verified", ""),
    "meta": ("1326801", "verified", "30303M102", "verified", ""),
    "oracle": ("1341439", "unverified", "68389X105", "verified", ""),
    "amd": ("2488", "unverified", "007903107", "verified", ""),
    "broadcom": ("1730168", "unverified", "11135F101", "verified", ""),
    "coreweave": ("1769628", "unverified", "", "", ""),
    "vanguard": ("102909", "verified", "", "", ""),
    "fidelity": ("315066", "verified", "", "", ""),
    # BlackRock, Inc. filed as 1364742 until its 2024 reorganisation; the new holding company's CIK is unknown here
    "blackrock": ("1364742", "unverified", "", "", ""),
    "state-street": ("93751", "unverified", "", "", ""),
}
ENTITY_COLUMNS = ["entity_id", "name", "kind", "layers", "parent_id", "country", "notes", "cik", "cik_status", "cusips",
                  "cusips_status", "lei"]


def entity_rows() -> list[dict]:
    rows = []
    for e in ENTITIES:
        row = dict(zip(ENTITY_COLUMNS[:7], e))
        row.update(dict(zip(ENTITY_COLUMNS[7:], IDENTIFIERS.get(e[0], ("", "", "", "", "")))))
        rows.append(row)
    return rows


# alias -> entity, by context. Context "*" applies everywhere; a context-specific alias wins.
# Contexts: cloud, accelerator, model (market-share rows), investor, investee, buyer, supplier,
# company, holder (stake and holder files).
ALIASES = [
    ("Amazon", "cloud", "aws"), ("AWS", "*", "aws"), ("Amazon Web Services", "*", "aws"),
    ("Amazon Web Services (Trainium)", "*", "aws"), ("Amazon", "*", "amazon"),
    ("Microsoft", "cloud", "microsoft-azure"), ("Microsoft Azure", "*", "microsoft-azure"),
    ("Azure", "*", "microsoft-azure"), ("Microsoft", "*", "microsoft"),
    ("Google", "cloud", "google-cloud"), ("Google Cloud", "*", "google-cloud"),
    ("Google Cloud (TPUs)", "*", "google-cloud"), ("Google + Broadcom (next-gen TPUs)", "*", "google-cloud"),
    ("Google (TPU, in-house)", "*", "google-cloud"), ("Google", "model", "google-deepmind"),
    ("Google DeepMind", "*", "google-deepmind"), ("Gemini", "*", "google-deepmind"),
    ("Google", "*", "alphabet"), ("Alphabet", "*", "alphabet"), ("Alphabet (Google)", "*", "alphabet"),
    ("Meta", "*", "meta"), ("Oracle", "*", "oracle"),
    ("Oracle (OCI, extending Azure AI platform)", "*", "oracle"), ("OCI", "*", "oracle"),
    ("Alibaba", "*", "alibaba"), ("Huawei", "*", "huawei"), ("Tencent", "*", "tencent"),
    ("IBM", "*", "ibm"), ("Salesforce", "*", "salesforce"), ("CoreWeave", "*", "coreweave"),
    ("Nebius", "*", "nebius"), ("IREN", "*", "iren"), ("Lambda", "*", "lambda"),
    ("Fluidstack (custom data centers, TX and NY)", "*", "fluidstack"), ("Fluidstack", "*", "fluidstack"),
    ("Stargate LLC", "*", "stargate"),
    ("Stargate JV build-out (tech partners Arm, Microsoft, Nvidia, Oracle, OpenAI)", "*", "stargate"),
    ("G42", "*", "g42"), ("Nvidia", "*", "nvidia"), ("AMD", "*", "amd"), ("Intel", "*", "intel"),
    ("Broadcom", "*", "broadcom"), ("Cerebras", "*", "cerebras"), ("Groq", "*", "groq"), ("ASML", "*", "asml"),
    ("OpenAI", "*", "openai"), ("OpenAI Group PBC", "*", "openai"),
    ("OpenAI (OpenAI LP, capped-profit)", "*", "openai"),
    ("OpenAI (for-profit, pre-recapitalization)", "*", "openai"), ("OpenAI (warrant holder)", "*", "openai"),
    ("OpenAI (Stargate LLC; equity funders SoftBank, OpenAI, Oracle, MGX)", "*", "openai"),
    ("OpenAI Foundation", "*", "openai-foundation"),
    ("Anthropic", "*", "anthropic"), ("Anthropic Long-Term Benefit Trust", "*", "anthropic-ltbt"),
    ("xAI", "*", "xai"), ("Mistral AI", "*", "mistral"), ("Mistral", "*", "mistral"),
    ("Inflection AI", "*", "inflection"), ("Inflection", "*", "inflection"), ("Adept AI", "*", "adept"), ("Character.AI", "*", "character-ai"),
    ("Scale AI", "*", "scale-ai"), ("SoftBank", "*", "softbank"), ("US government", "*", "us-government"),
    ("Vanguard Group", "*", "vanguard"), ("BlackRock", "*", "blackrock"), ("State Street", "*", "state-street"),
    ("FMR LLC (Fidelity)", "*", "fidelity"), ("Geode Capital Management", "*", "geode"),
    ("Capital Research & Management (Capital Group)", "*", "capital-group"),
    ("Capital World Investors (Capital Group)", "*", "capital-group"),
    ("Magnetar Capital", "*", "magnetar"), ("Institutions (aggregate)", "*", "institutions-aggregate"),
    ("All insiders (officers and directors)", "*", "insiders-aggregate"),
    ("Steve Ballmer", "*", "steve-ballmer"), ("Bill Gates", "*", "bill-gates"), ("Jensen Huang", "*", "jensen-huang"),
    ("Larry Page", "*", "larry-page"), ("Sergey Brin", "*", "sergey-brin"),
    ("Larry Page + Sergey Brin (combined)", "*", "page-brin"), ("Eric Schmidt", "*", "eric-schmidt"),
    ("Jeff Bezos", "*", "jeff-bezos"), ("Mark Zuckerberg", "*", "mark-zuckerberg"),
    ("Larry Ellison", "*", "larry-ellison"), ("Lisa Su", "*", "lisa-su"),
    ("Michael Intrator (co-founder, CEO)", "*", "michael-intrator"),
    ("Co-founders Intrator, Venturo, McBee (combined)", "*", "coreweave-founders"),
    # Epoch AI's names for owners and chip suppliers (riskmodels.sources.epoch, context "compute")
    ("Meta AI", "*", "meta"), ("Lambda Labs", "*", "lambda"), ("NVIDIA", "*", "nvidia"),
    ("Nebius AI", "*", "nebius"), ("Amazon AWS", "*", "aws"), ("Cerebras Systems", "*", "cerebras"),
    ("Google", "compute", "alphabet"), ("Amazon", "compute", "amazon"), ("Microsoft", "compute", "microsoft"),
    ("Google", "accelerator", "google-cloud"),   # TPUs, as the analysts' accelerator series count them
    ("Coreweave", "*", "coreweave"), ("Softbank", "*", "softbank"), ("Azure AI", "*", "microsoft-azure"),
    ("Stargate OpenAI", "*", "stargate"),        # Epoch's owner name for the Stargate joint venture's sites
    ("Amazon Web Services", "cloud", "aws"),
    # December 2026 update: in-house chips, Chinese vendors, chatbot products, new counterparties
    ("AWS (Trainium/Inferentia, in-house)", "*", "aws"), ("AWS (Trainium + Graviton, in-house)", "*", "aws"),
    ("Meta (MTIA, in-house)", "*", "meta"), ("Microsoft (Maia, in-house)", "*", "microsoft-azure"),
    ("Huawei (Ascend)", "*", "huawei"), ("Alibaba (T-Head)", "*", "alibaba"),
    ("Baidu (Kunlunxin)", "*", "baidu"), ("Cambricon", "*", "cambricon"),
    ("Marvell", "*", "marvell"), ("Marvell Technology", "*", "marvell"),
    ("OpenAI (ChatGPT)", "*", "openai"), ("Google (Gemini)", "*", "google-deepmind"), ("xAI (Grok)", "*", "xai"),
    ("Anthropic (Claude)", "*", "anthropic"), ("Microsoft (Copilot)", "*", "microsoft"),
    ("DeepSeek", "*", "deepseek"), ("Perplexity", "*", "perplexity"),
    ("Nscale", "*", "nscale"), ("Akamai Technologies", "*", "akamai"), ("Akamai", "*", "akamai"),
    ("SpaceX", "*", "spacex"), ("SpaceX (incl. xAI after the merger)", "*", "spacex"),
    ("SpaceX (xAI Colossus 1, Memphis)", "*", "spacex"), ("SpaceX (xAI data centres)", "*", "spacex"),
    ("Oracle (OCI)", "*", "oracle"), ("Broadcom (Google TPU 'Ironwood' racks)", "*", "broadcom"),
    ("AMD (Instinct GPUs)", "*", "amd"), ("Meta (warrant holder)", "*", "meta"),
    ("Google (Alphabet)", "*", "alphabet"), ("Generative AI sector", "*", "sector-generative-ai"),
    # Mistral's own debt-financed build: the buyer is its own supplier (reference row's words)
    ("own data centre near Paris (Nvidia GPUs), debt-financed", "supplier", "mistral"),
    ("Series E investors (Valor, StepStone, Fidelity, Qatar Investment Authority, MGX, Baron; strategic: Nvidia, "
     "Cisco Investments)", "investor", "xai-series-e-investors"),
    ("GIC and Coatue (leads); D. E. Shaw Ventures, Founders Fund, ICONIQ, MGX (co-leads); includes earlier Microsoft "
     "and Nvidia commitments", "investor", "anthropic-series-g-investors"),
    ("Altimeter, Dragoneer, Greenoaks, Sequoia (leads)", "investor", "anthropic-series-h-investors"),
    ("Round total: Amazon (up to $50B), Nvidia ($30B), SoftBank ($30B); co-leads SoftBank, a16z, D. E. Shaw, MGX, "
     "TPG, T. Rowe Price; Microsoft participated", "investor", "openai-2026-round-investors"),
]

# Rows that name a group of firms rather than one firm: kept, with provenance, in
# market_aggregates.csv, never treated as one firm in HHI.
AGGREGATE_NAMES = {
    "Top3 (Amazon+Microsoft+Google)": "top3", "TOTAL": "total", "Others": "others",
    "ASIC-based AI servers (all custom silicon)": "group", "Custom ASICs (all vendors)": "group",
    "Foreign vendors (Nvidia, AMD, etc.)": "group",
    "GPU-based AI servers": "group", "TOTAL (GPUs and AI accelerators, all vendors)": "total",
    "Chinese domestic vendors (all)": "group", "Chinese domestic vendors (Huawei, Cambricon, others)": "group",
    "Chinese open-weight models (Qwen, DeepSeek, Kimi and others)": "group",
    "Other (non-Chinese) open-weight models": "group",
}

# --------------------------------------------------------------------------- markets
# market_id, layer, definition, geography, analyst, metric
MARKETS = {
    "cloud.synergy.ww": ("cloud", "Cloud infrastructure services (IaaS + PaaS + hosted private cloud), revenue", "worldwide", "Synergy Research Group", "revenue share"),
    "cloud.canalys.ww": ("cloud", "Cloud infrastructure services spending", "worldwide", "Canalys/Omdia", "spending share"),
    "cloud.gartner-iaas.ww": ("cloud", "Public cloud IaaS revenue", "worldwide", "Gartner", "revenue share"),
    "cloud.canalys-revised.ww": ("cloud", "Cloud infrastructure services spending (historical estimates revised Aug 2024)", "worldwide", "Canalys (revised series, Aug 2024)", "spending share"),
    "accel.techinsights.dc-gpu.units": ("accelerator", "Data-centre GPUs", "worldwide", "TechInsights", "unit share"),
    "accel.techinsights.dc-gpu.revenue": ("accelerator", "Data-centre GPUs", "worldwide", "TechInsights", "revenue share"),
    "accel.wellsfargo.dc-gpu.revenue": ("accelerator", "Data-centre GPUs", "worldwide", "Wells Fargo Equity Research", "revenue share"),
    "accel.digitimes.highend-server-gpu.shipments-fcst": ("accelerator", "High-end server GPUs", "worldwide", "DIGITIMES Research", "shipment share (forecast)"),
    "accel.trendforce.gpu-ai-servers.fcst": ("accelerator", "GPU-equipped AI servers", "worldwide", "TrendForce", "chip supplier share (forecast)"),
    "accel.trendforce.all-ai-server-chips.fcst": ("accelerator", "All AI-server chips (GPU + ASIC + FPGA)", "worldwide", "TrendForce", "chip supplier share (forecast)"),
    "accel.mizuho.ai-chips": ("accelerator", "AI chips", "worldwide", "Mizuho", "market share"),
    "accel.reuters.ai-chips-incl-custom": ("accelerator", "AI chips incl. custom cloud chips", "worldwide", "Reuters (press estimate)", "market share"),
    "accel.morganstanley.ai-accelerators": ("accelerator", "AI accelerators", "worldwide", "Morgan Stanley", "share of AI accelerator sales"),
    "accel.susquehanna.ai-accelerators": ("accelerator", "AI accelerators", "worldwide", "Susquehanna", "market share"),
    "accel.susquehanna.ai-accelerators.fcst": ("accelerator", "AI accelerators", "worldwide", "Susquehanna", "market share (forecast)"),
    "accel.indxx.ai-gpus": ("accelerator", "AI / discrete GPUs", "worldwide", "Indxx", "market share"),
    "accel.trendforce.china-ai-server-chips.fcst": ("accelerator", "China AI server chip procurement", "China", "TrendForce", "share of procurement (forecast)"),
    "accel.trendforce.ai-server-chips": ("accelerator", "AI chips in AI servers (GPU and ASIC suppliers)", "worldwide", "TrendForce", "market share"),
    "accel.counterpoint.hyperscaler-asics.units": ("accelerator", "AI server compute ASICs of the top-10 hyperscalers", "worldwide", "Counterpoint Research", "shipment share"),
    "accel.counterpoint.asic-design-partners.fcst": ("accelerator", "AI server compute ASIC design partners", "worldwide", "Counterpoint Research", "design-partner share (forecast)"),
    "accel.visualcapitalist.dc-revenue.peer3": ("accelerator", "Data-centre segment revenue of Nvidia, AMD and Intel only (includes CPUs; excludes custom ASICs)", "worldwide", "Visual Capitalist (from company-reported revenue)", "share of the three-vendor revenue pool"),
    "accel.idc.china-ai-cards.units": ("accelerator", "AI accelerator cards shipped in China", "China", "IDC", "shipment share"),
    "accel.bernstein.china-ai-processors": ("accelerator", "AI processors", "China", "Bernstein", "market share"),
    "accel.bernstein.china-ai-processors.fcst": ("accelerator", "AI processors", "China", "Bernstein", "market share (forecast)"),
    "model.menlo.us-ent-api.usage-spend": ("model", "Enterprise LLM API usage/spend (metric not separated)", "US", "Menlo Ventures", "share of usage/spend"),
    "model.menlo.us-ent-api.spend": ("model", "Enterprise LLM API spend", "US", "Menlo Ventures", "share of spend"),
    "model.menlo.us-ent-api.usage": ("model", "Enterprise LLM API usage", "US", "Menlo Ventures", "share of usage"),
    "model.menlo.us-ent-coding.usage": ("model", "Enterprise LLM usage for code generation", "US", "Menlo Ventures", "share of usage"),
    "model.a16z.g2000-llm-spend": ("model", "Total LLM spend of Global 2000 firms (CIO survey)", "worldwide", "a16z", "share of spend"),
    "model.a16z.g2000-llm-spend.fcst": ("model", "Total LLM spend of Global 2000 firms (CIO survey)", "worldwide", "a16z", "share of spend (projected)"),
    "model.ramp.us-api-spend.two-firm": ("model", "API spend of US businesses on Ramp, Anthropic vs OpenAI only (two-firm denominator)", "US", "Ramp", "share of two-firm API spend"),
    "model.openrouter.programming-requests": ("model", "Programming-category requests routed via OpenRouter (excludes direct lab APIs)", "worldwide", "a16z and OpenRouter", "share of requests"),
    # consumer chatbots: product-level markets, three incompatible denominators, never spliced
    "model.similarweb.chatbot-web.visits": ("model", "Generative-AI chatbot website traffic, all chatbot sites (web visits only; excludes apps)", "worldwide", "Similarweb", "share of web visits"),
    "model.momentic.top7-assistants-web.visits": ("model", "Web visits among the seven largest AI assistants (Similarweb data compiled by Momentic)", "worldwide", "Momentic (Similarweb data)", "share of web visits"),
    "model.statcounter.chatbot-web.referrals": ("model", "AI chatbot market share from referral-based web statistics", "worldwide", "Statcounter", "share of referrals"),
}


def _cloud_market(row):
    a = row["analyst"]
    if a.startswith("Canalys (revised series"):
        return "cloud.canalys-revised.ww"        # Canalys's Aug 2024 restatement: a series of its own
    if a.startswith("Synergy"):
        return "cloud.synergy.ww"
    if a.startswith("Canalys") or a.startswith("Omdia"):
        return "cloud.canalys.ww"
    if a.startswith("Gartner"):
        return "cloud.gartner-iaas.ww"
    raise ValueError(f"unknown cloud analyst {a!r}")


def _accel_market(row):
    src, seg, met = row["source"], row["segment"], row["metric"]
    if seg.startswith("custom AI accelerators") or met in ("revenue", "annualized revenue run rate") \
            or "CEO statement" in met or "market size" in met:
        return None  # unit counts, company revenue, market sizes, statements: kept in other_metrics
    if seg == "AI servers":
        return None  # GPU- vs ASIC-based server shares: groups, kept as aggregates
    if src.startswith("TechInsights") and seg == "data-center GPUs":
        return "accel.techinsights.dc-gpu.units" if met.startswith("unit") else "accel.techinsights.dc-gpu.revenue"
    if src.startswith("TechInsights"):
        return None  # captive TPU unit counts: no share, kept in other_metrics
    if src.startswith("Wells Fargo"):
        return "accel.wellsfargo.dc-gpu.revenue"
    if src.startswith("DIGITIMES"):
        return "accel.digitimes.highend-server-gpu.shipments-fcst"
    if src.startswith("TrendForce") and seg == "GPU-equipped AI servers":
        return "accel.trendforce.gpu-ai-servers.fcst"
    if src.startswith("TrendForce") and seg.startswith("all AI-server chips"):
        return "accel.trendforce.all-ai-server-chips.fcst"
    if src.startswith("TrendForce") and seg.startswith("AI chips in AI servers"):
        return "accel.trendforce.ai-server-chips"
    if src.startswith("TrendForce") and seg.startswith("China"):
        return "accel.trendforce.china-ai-server-chips.fcst"
    if src.startswith("TrendForce"):
        return None  # ASIC share of AI servers: a group, kept as aggregate
    if src.startswith("Counterpoint") and seg.startswith("AI server compute ASIC design partners"):
        return "accel.counterpoint.asic-design-partners.fcst"
    if src.startswith("Counterpoint"):
        return "accel.counterpoint.hyperscaler-asics.units"
    if src.startswith("Visual Capitalist"):
        return "accel.visualcapitalist.dc-revenue.peer3"
    if src.startswith("IDC") and seg == "China AI accelerator cards":
        return "accel.idc.china-ai-cards.units"
    if src.startswith("Bernstein") and seg == "China AI processors":
        return "accel.bernstein.china-ai-processors.fcst" if "forecast" in met else "accel.bernstein.china-ai-processors"
    if src.startswith("Mizuho"):
        return "accel.mizuho.ai-chips"
    if src.startswith("Reuters"):
        return "accel.reuters.ai-chips-incl-custom"
    if src.startswith("Morgan Stanley"):
        return "accel.morganstanley.ai-accelerators"
    if src.startswith("Susquehanna"):
        return "accel.susquehanna.ai-accelerators.fcst" if "forecast" in met else "accel.susquehanna.ai-accelerators"
    if src.startswith("Indxx"):
        return "accel.indxx.ai-gpus"
    if src.startswith("AMD"):
        return None  # company-reported revenue, no share
    raise ValueError(f"unmapped accelerator row {src!r} {seg!r} {met!r}")


def _model_market(row):
    met, src = row["metric"], row["source"]
    if "penetration" in met or "businesses paying" in met or "head-to-head" in met:
        return None  # adoption or win rates, not a market share: kept in other_metrics
    if "two-firm denominator" in met:
        return "model.ramp.us-api-spend.two-firm"
    if "OpenRouter" in met and "programming" in met:
        return "model.openrouter.programming-requests"
    if "OpenRouter" in met:
        return None  # open-weight model groups' token shares: aggregates
    if "generative-AI chatbot website traffic" in met:
        return "model.similarweb.chatbot-web.visits"
    if "seven largest AI assistants" in met:
        return "model.momentic.top7-assistants-web.visits"
    if met.startswith("Statcounter"):
        return "model.statcounter.chatbot-web.referrals"
    if src.startswith("a16z"):
        return "model.a16z.g2000-llm-spend.fcst" if "projected" in met else "model.a16z.g2000-llm-spend"
    if "coding" in met:
        return "model.menlo.us-ent-coding.usage"
    if met.endswith("usage/spend"):
        return "model.menlo.us-ent-api.usage-spend"
    if met.endswith("spend"):
        return "model.menlo.us-ent-api.spend"
    if met.endswith("usage"):
        return "model.menlo.us-ent-api.usage"
    raise ValueError(f"unmapped model row {met!r}")


def norm_period(p: str) -> tuple[str, str, bool]:
    """Reference period text -> (period, period_type, projected)."""
    p = p.strip()
    projected = "projected" in p
    p = p.replace("(projected)", "").strip()
    if re.fullmatch(r"\d{4}Q[1-4]", p):
        return p, "quarter", projected
    if re.fullmatch(r"\d{4}H[12]", p):
        return p, "half", projected
    if re.fullmatch(r"\d{4}FY", p):
        return p, "year", projected
    if re.fullmatch(r"\d{4}", p):
        return p + "FY", "year", projected
    if re.fullmatch(r"\d{4}-\d{2}", p):
        return p, "month", projected
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", p):
        return p, "day", projected        # a tracker's snapshot date (e.g. Similarweb "data to 2 Jan 2026")
    raise ValueError(f"unparseable period {p!r}")


CEILING = re.compile(r"\bup to\b|letter of intent|non-binding|\btarget\b|on conditions|conditional|milestone", re.I)
LOWER = re.compile(r"more than|\bover \$|'over|>\s*\$|lower bound|at least", re.I)

# Overrides where the note's wording applies to another figure of the row (cited words).
COMMITMENT_BASIS = {
    # "Plus 'additional compute capacity up to one gigawatt'": the $30B is firm, the GW a ceiling.
    ("2025-11-18", "Anthropic", "Microsoft Azure"): ("reported", "ceiling"),
    # "'more than $100 billion over the next ten years'; up to 5 GW"
    ("2026-04-20", "Anthropic", "Amazon Web Services"): ("lower_bound", "ceiling"),
    # "'well over a gigawatt' in 2026 (power value is a lower bound)"
    ("2025-10-23", "Anthropic", "Google Cloud (TPUs)"): ("", "lower_bound"),
    # "At least 10 GW of Nvidia systems; purchase value undisclosed"
    ("2025-09-22", "OpenAI", "Nvidia"): ("", "lower_bound"),
    # "'more than $10B'; up to 750 MW through 2028"
    ("2026-01-14", "OpenAI", "Cerebras"): ("lower_bound", "ceiling"),
    # "Reported up to $19.4B with options": the $17.4B is the firm figure
    ("2025-09", "Microsoft", "Nebius"): ("reported", ""),
    # "Nvidia GB300 at IREN's 750 MW ... campus (campus size, not contracted power)"
    ("2025-11-03", "Microsoft", "IREN"): ("reported", ""),
    # "'approximately $23 billion'"; the note's "over $60 billion" is Microsoft's neocloud total
    ("2025-10", "Microsoft", "Nscale"): ("reported", ""),
    # "'$830 million in debt financing'; '44 MW'": the "target '200 MW ... by end-2027'" is a later plan
    ("2026-03-30", "Mistral AI", "own data centre near Paris (Nvidia GPUs), debt-financed"): ("reported", "reported"),
    # 10 GW target; $500B planned over four years
    ("2025-01-21", "OpenAI (Stargate LLC; equity funders SoftBank, OpenAI, Oracle, MGX)",
     "Stargate JV build-out (tech partners Arm, Microsoft, Nvidia, Oracle, OpenAI)"): ("ceiling", "ceiling"),
}

INVESTMENT_BASIS = {
    # "convertible debt (planned Sept 2025)"; the note's ">$3B invested" is a cumulative total.
    ("2025-03-11", "Google", "Anthropic"): "reported",
    # "'raised $20 billion in an upsized Series E'": the "$15B target" was the earlier goal
    ("2026-01-06", "Series E investors (Valor, StepStone, Fidelity, Qatar Investment Authority, MGX, Baron; strategic: "
     "Nvidia, Cisco Investments)", "xAI"): "reported",
    # "'$65 billion Series H'": the "at least $30 billion" was an earlier press report
    ("2026-05-28", "Altimeter, Dragoneer, Greenoaks, Sequoia (leads)", "Anthropic"): "reported",
    # "'$122 billion in committed capital'": Amazon's "up to $50B" is one participant's part
    ("2026-03-31", "Round total: Amazon (up to $50B), Nvidia ($30B), SoftBank ($30B); co-leads SoftBank, a16z, "
     "D. E. Shaw, MGX, TPG, T. Rowe Price; Microsoft participated", "OpenAI"): "reported",
}

# Accelerator family of a commitment, from the reference row's own words (quoted).
ACCEL_FAMILY = {
    ("2025-11-03", "OpenAI", "Amazon Web Services"): "Nvidia",        # "Nvidia GB200/GB300"
    ("2026-02-27", "OpenAI", "Amazon Web Services (Trainium)"): "Trainium",
    ("2025-09-22", "OpenAI", "Nvidia"): "Nvidia",                     # "Nvidia systems"
    ("2025-10-06", "OpenAI", "AMD"): "AMD Instinct",                  # "MI450"
    ("2025-10-13", "OpenAI", "Broadcom"): "OpenAI custom (Broadcom)",  # "OpenAI-designed accelerators"
    ("2026-01-14", "OpenAI", "Cerebras"): "Cerebras",
    ("2025-10-23", "Anthropic", "Google Cloud (TPUs)"): "TPU",        # "Up to 1M TPUs"
    ("2026-04-06", "Anthropic", "Google + Broadcom (next-gen TPUs)"): "TPU",
    ("2026-04-20", "Anthropic", "Amazon Web Services"): "Trainium",
    ("2025-11-18", "Anthropic", "Microsoft Azure"): "Nvidia",         # "Nvidia Grace Blackwell"
    ("2025-09-30", "Meta", "CoreWeave"): "Nvidia",                    # "Nvidia GB300 racks"
    ("2026-04-09", "Meta", "CoreWeave"): "Nvidia",                    # "includes Vera Rubin"
    ("2025-11-03", "Microsoft", "IREN"): "Nvidia",                    # "Nvidia GB300"
    ("2025-10", "Microsoft", "Nscale"): "Nvidia",                     # "NVIDIA's latest GB300 chips"
    ("2025-12-11", "Anthropic", "Broadcom (Google TPU 'Ironwood' racks)"): "TPU",
    ("2026-02-17", "Meta", "Nvidia"): "Nvidia",                       # "millions of Blackwell and Rubin GPUs"
    ("2026-02-24", "Meta", "AMD (Instinct GPUs)"): "AMD Instinct",    # "custom MI450"
    ("2026-02-26", "Meta", "Google Cloud (TPUs)"): "TPU",             # "rent Google TPUs"
    ("2026-03-16", "Meta", "Nebius"): "Nvidia",                       # "Nvidia Vera Rubin"
    ("2026-03-30", "Mistral AI", "own data centre near Paris (Nvidia GPUs), debt-financed"): "Nvidia",
    ("2026-05-06", "Anthropic", "SpaceX (xAI Colossus 1, Memphis)"): "Nvidia",   # "220,000+ Nvidia GPUs"
    ("2026-06-05", "Google", "SpaceX (xAI data centres)"): "Nvidia",             # "~110,000 Nvidia GPUs"
}

PROV = ["source", "source_url", "source_date", "confidence", "notes", "ref_file", "ref_row"]

# Rows compiled into the reference files later than the first snapshot: first such data row per
# file and the day they were compiled (reference README, "December 2026 update": "Rows appended at
# the end of six files on 2026-12-01"). Copied to a share row's ``compiled_on``: a source dated
# only "2026" was public by then (config/sources.yaml, compiled_date).
COMPILED = {"accelerator_share.csv": (27, "2026-12-01"), "cloud_market_share.csv": (120, "2026-12-01"),
            "model_api_share.csv": (20, "2026-12-01")}


def compiled_on(ref_file: str, i: int) -> str:
    first, day = COMPILED.get(ref_file, (None, ""))
    return day if first is not None and i >= first else ""


def read(path: Path):
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write(path: Path, cols, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    print(f"{path}: {len(rows)} rows")


class Resolver:
    def __init__(self):
        self.map = {}
        for alias, ctx, eid in ALIASES:
            self.map.setdefault((alias, ctx), eid)
        ids = {e[0] for e in ENTITIES}
        bad = {e for _, _, e in ALIASES} - ids
        assert not bad, bad

    def __call__(self, name: str, ctx: str) -> str:
        name = name.strip()
        for key in ((name, ctx), (name, "*")):
            if key in self.map:
                return self.map[key]
        raise KeyError(f"no entity for {name!r} in context {ctx!r}")


def prov(row, ref_file, i, source_date=None):
    return {
        "source": row.get("source", ""), "source_url": row.get("source_url", ""),
        "source_date": row.get("source_date", "") if source_date is None else source_date,
        "confidence": row.get("confidence", ""), "notes": row.get("notes", ""),
        "ref_file": ref_file, "ref_row": i, "compiled_on": compiled_on(ref_file, i),
    }


def main(ref: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    res = Resolver()

    write(out / "entities.csv", ENTITY_COLUMNS, entity_rows())
    write(out / "entity_aliases.csv", ["alias", "context", "entity_id"],
          [{"alias": a, "context": c, "entity_id": e} for a, c, e in ALIASES])
    write(out / "markets.csv", ["market_id", "layer", "definition", "geography", "analyst", "metric"],
          [dict(zip(["market_id", "layer", "definition", "geography", "analyst", "metric"], (k,) + v))
           for k, v in MARKETS.items()])

    shares, aggregates, other = [], [], []
    # cloud
    for i, r in enumerate(read(ref / "cloud_market_share.csv"), 1):
        period, ptype, proj = norm_period(r["quarter"])
        base = {"market_id": _cloud_market(r), "period": period, "period_type": ptype,
                "raw_name": r["provider"], "share_pct": r["share_pct"],
                "market_size_usd_bn": r["market_size_usd_bn"], "estimate_type": "analyst estimate",
                **prov(r, "cloud_market_share.csv", i)}
        if r["provider"] in AGGREGATE_NAMES:
            aggregates.append({**base, "aggregate_kind": AGGREGATE_NAMES[r["provider"]]})
        else:
            shares.append({**base, "entity_id": res(r["provider"], "cloud")})
    # accelerators
    for i, r in enumerate(read(ref / "accelerator_share.csv"), 1):
        period, ptype, proj = norm_period(r["period"])
        m = _accel_market(r)
        base = {"market_id": m or "", "period": period, "period_type": ptype, "raw_name": r["vendor"],
                "share_pct": r["share_pct"], "units_m": r["units_m"], "revenue_usd_bn": r["revenue_usd_bn"],
                "metric": r["metric"], "segment": r["segment"], "estimate_type": r["estimate_type"],
                **prov(r, "accelerator_share.csv", i)}
        if r["vendor"] in AGGREGATE_NAMES:
            aggregates.append({**base, "aggregate_kind": AGGREGATE_NAMES[r["vendor"]]})
        elif m is None or r["share_pct"] == "":
            other.append({**base, "entity_id": res(r["vendor"], "accelerator")})
        else:
            shares.append({**base, "entity_id": res(r["vendor"], "accelerator")})
    # models
    for i, r in enumerate(read(ref / "model_api_share.csv"), 1):
        period, ptype, proj = norm_period(r["period"])
        m = _model_market(r)
        base = {"market_id": m or "", "period": period, "period_type": ptype, "raw_name": r["provider"],
                "share_pct": r["share_pct"], "metric": r["metric"], "segment": r["segment"],
                "estimate_type": "projection" if proj else "survey estimate", **prov(r, "model_api_share.csv", i)}
        if r["provider"] in AGGREGATE_NAMES:
            aggregates.append({**base, "aggregate_kind": AGGREGATE_NAMES[r["provider"]]})
        else:
            (other if m is None else shares).append({**base, "entity_id": res(r["provider"], "model")})

    share_cols = ["market_id", "period", "period_type", "entity_id", "raw_name", "share_pct",
                  "market_size_usd_bn", "units_m", "revenue_usd_bn", "segment", "metric", "estimate_type"] + PROV \
        + ["compiled_on"]
    write(out / "market_shares.csv", share_cols, shares)
    write(out / "market_aggregates.csv", ["aggregate_kind"] + [c for c in share_cols if c != "entity_id"], aggregates)
    write(out / "market_other_metrics.csv", share_cols, other)

    # investments
    stakes = read(ref / "stake_rights.csv")
    inv = []
    for i, r in enumerate(read(ref / "investments.csv"), 1):
        text = f"{r['instrument']} {r['notes']}"
        if r["amount_usd_bn"] == "":
            basis = ""
        elif (r["date"], r["investor"], r["investee"]) in INVESTMENT_BASIS:
            basis = INVESTMENT_BASIS[(r["date"], r["investor"], r["investee"])]
        else:
            basis = "ceiling" if CEILING.search(text) else "lower_bound" if LOWER.search(text) else "reported"
        investor, investee = res(r["investor"], "investor"), res(r["investee"], "investee")
        rights = []
        for s in stakes:
            if (s["as_of"] == r["date"] and res(s["investor"], "investor") == investor
                    and res(s["investee"], "investee") == investee):
                for col in ("voting", "board_seat", "board_observer"):
                    if s[col]:
                        rights.append(f"{col}={s[col]}")
                for col in ("consultation_or_info_rights", "exclusivity_or_rofr"):
                    if s[col]:
                        rights.append(s[col])
        inv.append({"date": r["date"], "investor_id": investor, "investee_id": investee,
                    "investor_raw": r["investor"], "investee_raw": r["investee"],
                    "amount_usd_bn": r["amount_usd_bn"], "amount_basis": basis, "stake_pct": r["stake_pct"],
                    "instrument": r["instrument"], "rights": "; ".join(rights),
                    **prov(r, "investments.csv", i, source_date="")})
    write(out / "investments.csv", ["date", "investor_id", "investee_id", "investor_raw", "investee_raw",
                                    "amount_usd_bn", "amount_basis", "stake_pct", "instrument", "rights"] + PROV, inv)

    com = []
    for i, r in enumerate(read(ref / "compute_commitments.csv"), 1):
        key = (r["date"], r["buyer"], r["supplier"])
        text = r["notes"]
        if key in COMMITMENT_BASIS:
            ab, pb = COMMITMENT_BASIS[key]
        else:
            ab = "ceiling" if CEILING.search(text) else "lower_bound" if LOWER.search(text) else "reported"
            pb = ab
        com.append({"date": r["date"], "buyer_id": res(r["buyer"], "buyer"),
                    "supplier_id": res(r["supplier"], "supplier"), "buyer_raw": r["buyer"],
                    "supplier_raw": r["supplier"], "amount_usd_bn": r["amount_usd_bn"],
                    "amount_basis": ab if r["amount_usd_bn"] else "",
                    "power_gw": r["power_gw"], "power_basis": pb if r["power_gw"] else "",
                    "term_years": r["duration_years"], "accelerator_family": ACCEL_FAMILY.get(key, ""),
                    **prov(r, "compute_commitments.csv", i, source_date="")})
    write(out / "compute_commitments.csv", ["date", "buyer_id", "supplier_id", "buyer_raw", "supplier_raw",
                                            "amount_usd_bn", "amount_basis", "power_gw", "power_basis",
                                            "term_years", "accelerator_family"] + PROV, com)

    # stake rights and holders: kept whole for the ownership issue, with entity ids added.
    sr = []
    for i, s in enumerate(stakes, 1):
        sr.append({**{k: v for k, v in s.items()}, "investor_id": res(s["investor"], "investor"),
                   "investee_id": res(s["investee"], "investee"), "ref_file": "stake_rights.csv", "ref_row": i})
    write(out / "stake_rights.csv", ["as_of", "investor_id", "investee_id"] + list(stakes[0].keys())[1:]
          + ["ref_file", "ref_row"], sr)
    hold = read(ref / "institutional_holders.csv")
    write(out / "institutional_holders.csv",
          ["as_of", "company_id", "holder_id"] + list(hold[0].keys())[1:] + ["ref_file", "ref_row"],
          [{**h, "company_id": res(h["company"], "company"), "holder_id": res(h["holder"], "holder"),
            "ref_file": "institutional_holders.csv", "ref_row": i} for i, h in enumerate(hold, 1)])
    # regulatory events: parties resolved to entity ids (every alias found in the parties text,
    # longest first, so "Microsoft Azure" is not also read as "Microsoft")
    events = read(ref / "regulatory_events.csv")
    names = sorted({a for a, _, _ in ALIASES}, key=len, reverse=True)
    pattern = re.compile("|".join(r"(?<![\w.])" + re.escape(n) + r"(?![\w])" for n in names))
    rows = []
    for i, ev in enumerate(events, 1):
        text, found = ev["parties"], []
        for m in pattern.finditer(text):
            eid = res(m.group(0), "company")
            if eid not in found:
                found.append(eid)
        if not found:
            raise KeyError(f"regulatory_events row {i}: no known party in {text!r}")
        rows.append({**ev, "party_ids": ";".join(found), "ref_file": "regulatory_events.csv", "ref_row": i})
    write(out / "regulatory_events.csv", ["date", "party_ids"] + list(events[0].keys())[1:] + ["ref_file", "ref_row"], rows)
    # copied verbatim (context for analysts); provenance columns are already in them.
    for name in ("compute_ownership.csv", "hhi_reference.csv"):
        rows = read(ref / name)
        write(out / name, list(rows[0].keys()), rows)


if __name__ == "__main__":
    if sys.argv[1] == "--entities-only":  # registry and identifiers only, e.g. `--entities-only data`
        write(Path(sys.argv[2]) / "entities.csv", ENTITY_COLUMNS, entity_rows())
        write(Path(sys.argv[2]) / "entity_aliases.csv", ["alias", "context", "entity_id"],
              [{"alias": a, "context": c, "entity_id": e} for a, c, e in ALIASES])
    else:
        main(Path(sys.argv[1]), Path(sys.argv[2]))
