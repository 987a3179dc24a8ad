"""hotelbot.scheduler"""
